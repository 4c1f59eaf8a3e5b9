// SPDX-License-Identifier: BSD-2-Clause
// Data layer over LMDBs written by the test in the record formats (Caffe Datum databases and
// fcn segmentation databases): configuration and data errors, the values after decoding and
// transform against plain references (raw, JPEG and PNG vs OpenCV, float depth), order
// (sequential with wrap, seeded random), Caffe's crop/mirror/mean_file, two Caffe-style
// layers in step, batch padding, the prefetch thread's shutdown, and exact save/restore.
// The Data layer has no bottoms, hence no gradient check and no in-place case.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fcn/image_codec.h"
#include "fcn/io.h"
#include "fcn/lmdb_db.h"
#include "fcn/rng.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using ::testing::HasSubstr;

using Shape = std::vector<std::int64_t>;
using Bytes = std::vector<std::uint8_t>;

// ---------------------------------------------------------------------------------------
// Fixtures: images, Datums and databases.

Bytes RandomBytes(std::size_t n, std::uint32_t seed) {
  Rng rng(seed);
  Bytes out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng.NextU32() & 0xff);
  return out;
}

// A smooth colour image (JPEG-friendly), CHW, BGR planes.
Bytes SmoothImage(int c, int h, int w, int seed) {
  Bytes out(static_cast<std::size_t>(c * h * w));
  for (int k = 0; k < c; ++k) {
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        out[static_cast<std::size_t>((k * h + y) * w + x)] =
            static_cast<std::uint8_t>((seed * 37 + k * 80 + y * 5 + x * 3) % 256);
      }
    }
  }
  return out;
}

Datum RawDatum(int c, int h, int w, const Bytes& chw, int label = 0) {
  Datum d;
  d.set_channels(c);
  d.set_height(h);
  d.set_width(w);
  d.set_data(std::string(chw.begin(), chw.end()));
  d.set_label(label);
  return d;
}

Datum FloatDatum(int c, int h, int w, const std::vector<float>& chw) {
  Datum d;
  d.set_channels(c);
  d.set_height(h);
  d.set_width(w);
  for (const float v : chw) d.add_float_data(v);
  return d;
}

// Encodes CHW 8-bit (or 16-bit when depth16) pixels with OpenCV (".jpg" / ".png").
std::string Encode(const Bytes& chw, int c, int h, int w, const std::string& ext) {
  cv::Mat hwc(h, w, CV_8UC(c));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int k = 0; k < c; ++k) {
        hwc.ptr<std::uint8_t>(y)[x * c + k] = chw[static_cast<std::size_t>((k * h + y) * w + x)];
      }
    }
  }
  std::vector<std::uint8_t> buf;
  EXPECT_TRUE(cv::imencode(ext, hwc, buf));
  return std::string(buf.begin(), buf.end());
}

Datum EncodedDatum(const std::string& bytes, int c, int h, int w, int label = 0) {
  Datum d;
  d.set_channels(c);
  d.set_height(h);
  d.set_width(w);
  d.set_data(bytes);
  d.set_encoded(true);
  d.set_label(label);
  return d;
}

// The reference decode: OpenCV imdecode of the same bytes, transposed to CHW floats.
std::vector<float> OpenCvDecode(const std::string& bytes, int flag) {
  const cv::Mat buf(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
  const cv::Mat img = cv::imdecode(buf, flag);
  std::vector<float> out(static_cast<std::size_t>(img.channels() * img.rows * img.cols));
  for (int k = 0; k < img.channels(); ++k) {
    for (int y = 0; y < img.rows; ++y) {
      for (int x = 0; x < img.cols; ++x) {
        out[static_cast<std::size_t>((k * img.rows + y) * img.cols + x)] =
            img.ptr<std::uint8_t>(y)[x * img.channels() + k];
      }
    }
  }
  return out;
}

// (x - mean[c]) * scale over CHW values.
std::vector<float> MeanScale(const std::vector<float>& chw, int c, const std::vector<float>& mean,
                             float scale = 1.0f) {
  std::vector<float> out(chw.size());
  const std::size_t plane = chw.size() / static_cast<std::size_t>(c);
  for (std::size_t i = 0; i < chw.size(); ++i) {
    out[i] = (chw[i] - mean[mean.size() == 1 ? 0 : i / plane]) * scale;
  }
  return out;
}

std::vector<float> ToFloat(const Bytes& b) { return std::vector<float>(b.begin(), b.end()); }

std::string IndexKey(int i, const std::string& id) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08d", i);
  return StrCat(buf, "_", id);
}

// A Caffe Datum database (convert_imageset's keys), no ~meta.
std::string WriteCaffeDb(const std::vector<Datum>& records, const std::string& name = "caffe") {
  const std::string dir = StrCat(TempDir(), "/", name);
  LmdbWriter writer(dir);
  for (std::size_t i = 0; i < records.size(); ++i) {
    writer.Put(IndexKey(static_cast<int>(i), StrCat("img", i, ".jpg")),
               records[i].SerializeAsString());
  }
  writer.Commit();
  return dir;
}

// A segmentation database in the decided record format: "<index:08d>_<id>/<field>" keys
// and the ~meta record (count = the number of samples unless given).
struct Sample {
  std::string id;
  std::map<std::string, std::string> records;  // field -> serialized value
};

std::string WriteSegDb(const std::vector<Sample>& samples, const std::vector<std::string>& fields,
                       int count = -1) {
  const std::string dir = StrCat(TempDir(), "/seg");
  LmdbWriter writer(dir);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    for (const auto& [field, value] : samples[i].records) {
      writer.Put(StrCat(IndexKey(static_cast<int>(i), samples[i].id), "/", field), value);
    }
  }
  std::vector<std::string> quoted;
  for (const auto& f : fields) quoted.push_back(StrCat("\"", f, "\""));
  writer.Put("~meta", StrCat("{\"format\": \"fcn-seg-1\", \"count\": ",
                             count < 0 ? static_cast<int>(samples.size()) : count,
                             ", \"fields\": [", Join(quoted, ", "),
                             "], \"dataset\": \"test\", \"split\": \"train\", "
                             "\"ignore_label\": 255, \"classes\": 21}"));
  writer.Commit();
  return dir;
}

// Sample i: raw 3xHxW image and a 1xHxW label filled with value i.
Sample RawSample(int i, int h, int w) {
  Sample s;
  s.id = StrCat("img", i);
  s.records["data"] = RawDatum(3, h, w, RandomBytes(static_cast<std::size_t>(3 * h * w), 100 + i))
                          .SerializeAsString();
  s.records["label"] =
      RawDatum(1, h, w, Bytes(static_cast<std::size_t>(h * w), static_cast<std::uint8_t>(i)))
          .SerializeAsString();
  return s;
}

// ---------------------------------------------------------------------------------------
// Running the layer.

struct Tops {
  explicit Tops(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      blobs.push_back(std::make_unique<Blob>());
      vec.push_back(blobs.back().get());
    }
  }
  std::vector<std::unique_ptr<Blob>> blobs;
  BlobVec vec;
};

// A set-up Data layer and its tops.
struct DataRun {
  std::unique_ptr<Layer> layer;
  Tops tops;

  // `seed` seeds the layer's Rng before set-up (transform seed, rand_skip).
  DataRun(const std::string& text, std::size_t num_tops, std::uint64_t seed = 5489)
      : layer(MakeLayer(text)), tops(num_tops) {
    layer->rng().Seed(seed);
    layer->SetUp({}, tops.vec);
  }
  void Forward() {
    ExecContext ctx;
    layer->Forward(ctx, {}, tops.vec);
  }
  std::vector<float> Top(std::size_t i) const { return Data(*tops.vec[i]); }
  Shape TopShape(std::size_t i) const { return tops.vec[i]->shape(); }
};

// A Data layer's text: the tops, then `data_param { source backend batch_size <extra> }`
// and `rest` (other LayerParameter fields).
std::string DataText(const std::string& source, const std::vector<std::string>& tops,
                     const std::string& data_extra = "", const std::string& rest = "",
                     int batch_size = 1) {
  std::string text = "name: \"data\" type: \"Data\"";
  for (const auto& t : tops) text += StrCat(" top: \"", t, "\"");
  text += StrCat(" data_param { source: \"", source, "\" backend: LMDB batch_size: ", batch_size,
                 " ", data_extra, " } ", rest);
  return text;
}

std::string SetUpError(const std::string& text, std::size_t num_tops) {
  return ConfigErrorOf([&] { DataRun run(text, num_tops); });
}

// ---------------------------------------------------------------------------------------
// 1. Configuration and data errors.

TEST(DataLayerErrors, LevelDbBackendIsRefusedWithHowToConvert) {
  const std::string db = WriteCaffeDb({RawDatum(1, 1, 1, {7})});
  const std::string text =
      StrCat("type: \"Data\" top: \"data\" data_param { source: \"", db, "\" batch_size: 1 }");
  const std::string error = SetUpError(text, 1);
  EXPECT_THAT(error, HasSubstr("fcn reads only LMDB databases"));
  EXPECT_THAT(error, HasSubstr("backend: LMDB"));
  EXPECT_THAT(error, HasSubstr("convert"));
}

TEST(DataLayerErrors, MissingDatabaseDirectoryNamesThePath) {
  const std::string db = TempDir() + "/missing_db";
  EXPECT_THAT(SetUpError(DataText(db, {"data"}), 1),
              HasSubstr(db + ": no such LMDB database directory"));
}

TEST(DataLayerErrors, EmptyDatabase) {
  const std::string db = WriteCaffeDb({});
  EXPECT_THAT(SetUpError(DataText(db, {"data"}), 1),
              HasSubstr(db + ": the database has no records"));
}

TEST(DataLayerErrors, SegmentationDatabaseWithNoSamples) {
  const std::string db = WriteSegDb({}, {"data", "label"});
  EXPECT_THAT(SetUpError(DataText(db, {"data", "label"}), 2),
              HasSubstr(db + ": the database has no samples"));
}

TEST(DataLayerErrors, BatchSizeMustBePositive) {
  const std::string db = WriteCaffeDb({RawDatum(1, 1, 1, {7})});
  EXPECT_THAT(SetUpError(DataText(db, {"data"}, "", "", 0), 1),
              HasSubstr("batch_size must be positive"));
}

TEST(DataLayerErrors, RecordThatIsNotADatumNamesTheKey) {
  const std::string dir = TempDir() + "/bad";
  {
    LmdbWriter writer(dir);
    writer.Put("00000000_a.jpg", "garbage");
  }
  EXPECT_THAT(SetUpError(DataText(dir, {"data"}), 1),
              HasSubstr(dir + ": record \"00000000_a.jpg\": not a serialized Datum"));
}

// Found by fuzz/fuzz_image: bytes with "DICM" at offset 128 went from imdecode to OpenCV's
// DICOM reader (GDCM), which ended the process in an assert(). Only PNG, JPEG and BMP reach
// OpenCV now; the rest is a clear error naming the record.
TEST(DataLayerErrors, FuzzDicomBytesInAnEncodedDatumAreRefusedNotDecoded) {
  std::string dicom(128, '\0');
  dicom += "DICM";
  dicom += std::string(64, '\x01');
  Datum encoded;
  encoded.set_encoded(true);
  encoded.set_data(dicom);
  const std::string dir = TempDir() + "/dicom";
  {
    LmdbWriter writer(dir);
    writer.Put("00000000_a.png", encoded.SerializeAsString());
  }
  EXPECT_THAT(SetUpError(DataText(dir, {"data"}), 1),
              HasSubstr(dir + ": record \"00000000_a.png\": cannot decode the encoded image (196 "
                              "bytes): not a PNG, JPEG or BMP file"));
  // A BMP, which Caffe's convert_imageset can write, still decodes.
  cv::Mat bgr(2, 3, CV_8UC3, cv::Scalar(10, 20, 30));
  std::vector<unsigned char> bmp;
  ASSERT_TRUE(cv::imencode(".bmp", bgr, bmp));
  Datum datum;
  datum.set_encoded(true);
  datum.set_data(std::string(bmp.begin(), bmp.end()));
  DatumImage image;
  DecodeDatum(datum, ColorMode::kColor, "bmp", &image);
  EXPECT_EQ(image.channels, 3);
  EXPECT_EQ(image.height, 2);
  EXPECT_EQ(image.width, 3);
  EXPECT_EQ(image.bytes[0], 10);      // B plane
  EXPECT_EQ(image.bytes[2 * 6], 30);  // R plane
}

TEST(DataLayerErrors, PixelCountMismatchNamesTheKey) {
  const std::string db = WriteCaffeDb({RawDatum(3, 2, 2, Bytes(11, 1))});
  EXPECT_THAT(SetUpError(DataText(db, {"data"}), 1),
              HasSubstr("record \"00000000_img0.jpg\": pixel count mismatch: the Datum has 11 "
                        "bytes of data, channels*height*width = 3*2*2 = 12"));
}

TEST(DataLayerErrors, FloatCountMismatch) {
  const std::string db = WriteCaffeDb({FloatDatum(1, 2, 2, {1, 2, 3})});
  EXPECT_THAT(SetUpError(DataText(db, {"data"}), 1),
              HasSubstr("pixel count mismatch: the Datum has 3 float_data values"));
}

TEST(DataLayerErrors, CorruptRecordMidStreamFailsThatForwardAndLaterOnes) {
  const std::string dir = TempDir() + "/bad";
  {
    LmdbWriter writer(dir);
    writer.Put("00000000_a", RawDatum(1, 1, 2, {1, 2}).SerializeAsString());
    writer.Put("00000001_b", "garbage");
  }
  DataRun run(DataText(dir, {"data"}, "prefetch: 1"), 1);
  const std::string initial = run.layer->SaveState();
  run.Forward();
  EXPECT_EQ(run.Top(0), (std::vector<float>{1, 2}));
  EXPECT_THAT(ConfigErrorOf([&] { run.Forward(); }),
              HasSubstr(dir + ": record \"00000001_b\": not a serialized Datum"));
  EXPECT_THAT(ConfigErrorOf([&] { run.Forward(); }), HasSubstr("00000001_b"));
  // Restoring a state restarts the stopped thread.
  run.layer->RestoreState(initial);
  run.Forward();
  EXPECT_EQ(run.Top(0), (std::vector<float>{1, 2}));
}

TEST(DataLayerErrors, UndecodableEncodedImage) {
  const std::string db = WriteCaffeDb({EncodedDatum("\xff\xd8 not really a jpeg", 3, 2, 2)});
  EXPECT_THAT(SetUpError(DataText(db, {"data"}), 1),
              HasSubstr("record \"00000000_img0.jpg\": cannot decode the encoded image"));
}

TEST(DataLayerErrors, SixteenBitPngIsRefusedAsInCaffe) {
  cv::Mat depth(2, 3, CV_16UC1, cv::Scalar(2550));
  std::vector<std::uint8_t> buf;
  ASSERT_TRUE(cv::imencode(".png", depth, buf));
  const std::string db = WriteCaffeDb({EncodedDatum(std::string(buf.begin(), buf.end()), 1, 2, 3)});
  EXPECT_THAT(SetUpError(DataText(db, {"data"}), 1), HasSubstr("the encoded image is not 8-bit"));
}

TEST(DataLayerErrors, MeanValueCountMustMatchChannels) {
  const std::string db = WriteCaffeDb({RawDatum(3, 1, 1, {1, 2, 3})});
  EXPECT_THAT(
      SetUpError(DataText(db, {"data"}, "", "transform_param { mean_value: 1 mean_value: 2 }"), 1),
      HasSubstr("2 mean_value entries for an image of 3 channels"));
}

TEST(DataLayerErrors, MeanFileAndMeanValueAreExclusive) {
  const std::string db = WriteCaffeDb({RawDatum(1, 1, 1, {1})});
  EXPECT_THAT(SetUpError(DataText(db, {"data"}, "",
                                  "transform_param { mean_value: 1 mean_file: \"m.binaryproto\" }"),
                         1),
              HasSubstr("cannot specify mean_file and mean_value at the same time"));
}

TEST(DataLayerErrors, CaffeDatabaseTakesAtMostTwoTops) {
  const std::string db = WriteCaffeDb({RawDatum(1, 1, 1, {1})});
  EXPECT_THAT(SetUpError(DataText(db, {"a", "b", "c"}), 3),
              HasSubstr("has 1 or 2 tops (data, label); got 3"));
}

TEST(DataLayerErrors, SegmentationOptionsOnACaffeDatabase) {
  const std::string db = WriteCaffeDb({RawDatum(1, 1, 1, {1})});
  EXPECT_THAT(SetUpError(DataText(db, {"data"}, "shuffle: true"), 1),
              HasSubstr("apply to segmentation databases (with a ~meta record)"));
}

TEST(DataLayerErrors, BatchOfDifferentSizesInCaffeMode) {
  const std::string db = WriteCaffeDb({RawDatum(1, 1, 2, {1, 2}), RawDatum(1, 2, 1, {1, 2})});
  EXPECT_THAT(SetUpError(DataText(db, {"data"}, "", "", 2), 1),
              HasSubstr("record \"00000001_img1.jpg\": the image is 1x2x1 but the batch (shaped "
                        "by record \"00000000_img0.jpg\") is 1x1x2"));
}

TEST(DataLayerErrors, TopWithUnknownFieldListsTheFields) {
  const std::string db = WriteSegDb({RawSample(0, 2, 2)}, {"data", "label"});
  EXPECT_THAT(SetUpError(DataText(db, {"data", "sem"}), 2),
              HasSubstr("top \"sem\" reads field \"sem\", which " + db +
                        " does not have; its fields are: data, label"));
}

TEST(DataLayerErrors, SampleMissingAFieldNamesSampleAndField) {
  Sample broken = RawSample(1, 2, 2);
  broken.records.erase("label");
  const std::string db = WriteSegDb({RawSample(0, 2, 2), broken}, {"data", "label"});
  EXPECT_THAT(SetUpError(DataText(db, {"data", "label"}), 2),
              HasSubstr(db + ": sample \"00000001_img1\" has no record \"00000001_img1/label\""));
}

TEST(DataLayerErrors, MetaCountDisagreesWithTheRecords) {
  const std::string db = WriteSegDb({RawSample(0, 2, 2)}, {"data", "label"}, 2);
  EXPECT_THAT(SetUpError(DataText(db, {"data", "label"}), 2),
              HasSubstr("the ~meta record says 2 samples but the database holds 1"));
}

TEST(DataLayerErrors, MetaThatIsNotJson) {
  const std::string dir = TempDir() + "/seg";
  {
    LmdbWriter writer(dir);
    writer.Put("00000000_a/data", RawDatum(1, 1, 1, {1}).SerializeAsString());
    writer.Put("~meta", "{not json");
  }
  EXPECT_THAT(SetUpError(DataText(dir, {"data"}), 1),
              HasSubstr(dir + ": record \"~meta\": not a JSON object"));
}

// fuzz_lmdb_record's find (fuzz/findings/lmdb_record-crash-869b1a8e…): a "count" of 1e26 was
// converted to int64 (undefined behaviour, UBSan's report); counts that no JSON double holds
// exactly, negative, fractional or infinite ones are a clear error naming the record.
TEST(DataLayerErrors, FuzzMetaCountBeyondInt64IsAClearError) {
  for (const char* count :
       {"100000000000000000000000000", "1e300", "9007199254740994", "-1", "2.5", "\"3\""}) {
    const std::string dir = TempDir() + "/seg";
    std::filesystem::remove_all(dir);
    {
      LmdbWriter writer(dir);
      writer.Put("00000000_a/data", RawDatum(1, 1, 1, {1}).SerializeAsString());
      writer.Put("~meta",
                 StrCat(R"({"format": "fcn-seg-1", "count": )", count, R"(, "fields": ["data"]})"));
    }
    EXPECT_THAT(SetUpError(DataText(dir, {"data"}), 1),
                HasSubstr(dir + ": record \"~meta\": \"count\" must be a non-negative integer "
                                "of at most 2^53"))
        << count;
  }
}

TEST(DataLayerErrors, SegmentationKeyWithoutField) {
  const std::string dir = TempDir() + "/seg";
  {
    LmdbWriter writer(dir);
    writer.Put("00000000_a", RawDatum(1, 1, 1, {1}).SerializeAsString());
    writer.Put("~meta", R"({"format": "fcn-seg-1", "count": 1, "fields": ["data"]})");
  }
  EXPECT_THAT(SetUpError(DataText(dir, {"data"}), 1),
              HasSubstr("record \"00000000_a\": the key is not \"<index>_<sample id>/<field>\""));
}

TEST(DataLayerErrors, FieldsOfOneSampleMustHaveOneSize) {
  Sample s = RawSample(0, 2, 2);
  s.records["label"] = RawDatum(1, 2, 3, Bytes(6, 0)).SerializeAsString();
  const std::string db = WriteSegDb({s}, {"data", "label"});
  EXPECT_THAT(SetUpError(DataText(db, {"data", "label"}), 2),
              HasSubstr("record \"00000000_img0/label\": is 2x3 but record "
                        "\"00000000_img0/data\" of the same sample is 2x2"));
}

TEST(DataLayerErrors, FieldAndFieldTransformCountsPerTop) {
  const std::string db = WriteSegDb({RawSample(0, 2, 2)}, {"data", "label"});
  EXPECT_THAT(SetUpError(DataText(db, {"a", "b"}, "field: \"data\""), 2),
              HasSubstr("data_param.field must be given once per top (2 tops); got 1"));
  EXPECT_THAT(SetUpError(DataText(db, {"data", "label"}, "field_transform { scale: 2 }"), 2),
              HasSubstr("data_param.field_transform must be given once per top (2 tops); got 1"));
}

TEST(DataLayerErrors, CropAndMirrorAreCaffeModeOnly) {
  const std::string db = WriteSegDb({RawSample(0, 2, 2)}, {"data", "label"});
  EXPECT_THAT(
      SetUpError(DataText(db, {"data", "label"}, "", "transform_param { mirror: true }"), 2),
      HasSubstr("crop_size, mirror and mean_file are not supported for segmentation"));
}

TEST(DataLayerErrors, SavedStateThatDoesNotFit) {
  std::vector<Sample> five;
  for (int i = 0; i < 5; ++i) five.push_back(RawSample(i, 2, 2));
  DataRun big(DataText(WriteSegDb(five, {"data", "label"}), {"data", "label"}), 2);
  const std::string state = big.layer->SaveState();
  DataRun small(DataText(WriteSegDb({RawSample(0, 2, 2)}, {"data", "label"}), {"data", "label"}),
                2);
  EXPECT_THAT(ConfigErrorOf([&] { small.layer->RestoreState(state); }),
              HasSubstr("the saved Data layer state is for a database of 5 records"));
  EXPECT_THAT(ConfigErrorOf([&] { small.layer->RestoreState("nonsense"); }),
              HasSubstr("not a state written by this version of fcn"));
  // A failed restore leaves the layer running where it was.
  small.Forward();
  EXPECT_EQ(small.Top(1), std::vector<float>(4, 0.0f));
}

// ---------------------------------------------------------------------------------------
// 2. Values: segmentation databases.

TEST(DataLayerSegmentation, RawImageMinusMeanAndLabelUntouched) {
  const Sample s = RawSample(3, 4, 5);
  const std::string db = WriteSegDb({s}, {"data", "label"});
  DataRun run(DataText(db, {"data", "label"}, "",
                       "transform_param { mean_value: 104 mean_value: 117 mean_value: 123 }"),
              2);
  run.Forward();
  EXPECT_EQ(run.TopShape(0), (Shape{1, 3, 4, 5}));
  EXPECT_EQ(run.TopShape(1), (Shape{1, 1, 4, 5}));
  const std::vector<float> x = ToFloat(RandomBytes(60, 103));
  EXPECT_TRUE(AllNear(run.Top(0), MeanScale(x, 3, {104, 117, 123}), 1e-5f));
  EXPECT_EQ(run.Top(1), std::vector<float>(20, 3.0f));
}

TEST(DataLayerSegmentation, JpegMatchesOpenCvDecodeOfTheSameBytes) {
  const int h = 24;
  const int w = 32;
  const std::string jpeg = Encode(SmoothImage(3, h, w, 1), 3, h, w, ".jpg");
  Sample s;
  s.id = "2008_000123";
  s.records["data"] = EncodedDatum(jpeg, 3, h, w).SerializeAsString();
  s.records["label"] = RawDatum(1, h, w, RandomBytes(h * w, 9)).SerializeAsString();
  const std::string db = WriteSegDb({s}, {"data", "label"});
  DataRun run(DataText(db, {"data", "label"}, "",
                       "transform_param { mean_value: 104.00699 mean_value: 116.66877 "
                       "mean_value: 122.67892 }"),
              2);
  run.Forward();
  EXPECT_EQ(run.TopShape(0), (Shape{1, 3, h, w}));
  const std::vector<float> expected =
      MeanScale(OpenCvDecode(jpeg, cv::IMREAD_UNCHANGED), 3, {104.00699f, 116.66877f, 122.67892f});
  EXPECT_TRUE(AllNear(run.Top(0), expected, 1e-4f));
  EXPECT_EQ(run.Top(1), ToFloat(RandomBytes(h * w, 9)));
}

TEST(DataLayerSegmentation, PngGivesTheStoredBgrPixelsExactly) {
  const int h = 5;
  const int w = 7;
  const Bytes bgr = RandomBytes(3 * h * w, 42);  // planes B, G, R as the converter stores them
  Sample s;
  s.id = "a";
  s.records["data"] = EncodedDatum(Encode(bgr, 3, h, w, ".png"), 3, h, w).SerializeAsString();
  s.records["label"] = RawDatum(1, h, w, Bytes(h * w, 1)).SerializeAsString();
  const std::string db = WriteSegDb({s}, {"data", "label"});
  DataRun run(
      DataText(db, {"data", "label"}, "",
               "transform_param { mean_value: 10 mean_value: 20 mean_value: 30 scale: 0.5 }"),
      2);
  run.Forward();
  EXPECT_TRUE(AllNear(run.Top(0), MeanScale(ToFloat(bgr), 3, {10, 20, 30}, 0.5f), 1e-5f));
}

TEST(DataLayerSegmentation, ForceGrayDecodesOneChannel) {
  const std::string png = Encode(RandomBytes(3 * 4 * 4, 5), 3, 4, 4, ".png");
  Sample s;
  s.id = "a";
  s.records["data"] = EncodedDatum(png, 3, 4, 4).SerializeAsString();
  const std::string db = WriteSegDb({s}, {"data"});
  DataRun run(DataText(db, {"data"}, "", "transform_param { force_gray: true }"), 1);
  run.Forward();
  EXPECT_EQ(run.TopShape(0), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(run.Top(0), OpenCvDecode(png, cv::IMREAD_GRAYSCALE));
}

TEST(DataLayerSegmentation, ColorHhaDepthWithPerTopTransforms) {
  const int h = 3;
  const int w = 4;
  const Bytes color = RandomBytes(3 * h * w, 1);
  const Bytes hha = RandomBytes(3 * h * w, 2);
  std::vector<float> log_depth(h * w);
  for (std::size_t i = 0; i < log_depth.size(); ++i) log_depth[i] = std::log(1000.0f + 100.0f * i);
  Sample s;
  s.id = "img_5001";
  s.records["color"] = EncodedDatum(Encode(color, 3, h, w, ".png"), 3, h, w).SerializeAsString();
  s.records["hha"] = EncodedDatum(Encode(hha, 3, h, w, ".png"), 3, h, w).SerializeAsString();
  s.records["depth"] = FloatDatum(1, h, w, log_depth).SerializeAsString();
  s.records["label"] = RawDatum(1, h, w, Bytes(h * w, 255)).SerializeAsString();
  const std::string db = WriteSegDb({s}, {"color", "depth", "hha", "label"});
  DataRun run(
      DataText(db, {"color", "hha", "depth", "label"},
               "field_transform { mean_value: 116.190 mean_value: 97.203 mean_value: 92.318 } "
               "field_transform { mean_value: 132.431 mean_value: 94.076 mean_value: 118.477 } "
               "field_transform { mean_value: 7.844 } "
               "field_transform { }"),
      4);
  run.Forward();
  EXPECT_TRUE(
      AllNear(run.Top(0), MeanScale(ToFloat(color), 3, {116.190f, 97.203f, 92.318f}), 1e-4f));
  EXPECT_TRUE(
      AllNear(run.Top(1), MeanScale(ToFloat(hha), 3, {132.431f, 94.076f, 118.477f}), 1e-4f));
  EXPECT_EQ(run.TopShape(2), (Shape{1, 1, h, w}));
  EXPECT_TRUE(AllNear(run.Top(2), MeanScale(log_depth, 1, {7.844f}), 1e-6f));
  EXPECT_EQ(run.Top(3), std::vector<float>(h * w, 255.0f));
}

TEST(DataLayerSegmentation, TopsNamedByFieldParameter) {
  const std::string db = WriteSegDb({RawSample(2, 2, 3)}, {"data", "label"});
  DataRun run(DataText(db, {"img", "gt"}, "field: \"data\" field: \"label\""), 2);
  run.Forward();
  EXPECT_EQ(run.Top(0), ToFloat(RandomBytes(18, 102)));
  EXPECT_EQ(run.Top(1), std::vector<float>(6, 2.0f));
}

TEST(DataLayerSegmentation, WholeImagesOfDifferentSizesAtBatchOne) {
  const std::string db =
      WriteSegDb({RawSample(0, 2, 3), RawSample(1, 4, 1), RawSample(2, 3, 3)}, {"data", "label"});
  DataRun run(DataText(db, {"data", "label"}), 2);
  const std::vector<Shape> expected = {{1, 3, 2, 3}, {1, 3, 4, 1}, {1, 3, 3, 3}, {1, 3, 2, 3}};
  for (const Shape& shape : expected) {
    run.Forward();
    EXPECT_EQ(run.TopShape(0), shape);
    EXPECT_EQ(run.TopShape(1), (Shape{1, 1, shape[2], shape[3]}));
  }
}

// The label value of each forward (each sample's label is filled with its index).
std::vector<int> LabelSequence(DataRun* run, int n) {
  std::vector<int> out;
  for (int i = 0; i < n; ++i) {
    run->Forward();
    out.push_back(static_cast<int>(run->Top(1)[0]));
  }
  return out;
}

std::string FiveSampleDb() {
  std::vector<Sample> samples;
  for (int i = 0; i < 5; ++i) samples.push_back(RawSample(i, 2, 2));
  return WriteSegDb(samples, {"data", "label"});
}

TEST(DataLayerSegmentation, SequentialOrderWrapsAtTheEnd) {
  DataRun run(DataText(FiveSampleDb(), {"data", "label"}), 2);
  EXPECT_EQ(LabelSequence(&run, 12), (std::vector<int>{0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1}));
  EXPECT_EQ(run.Top(0), ToFloat(RandomBytes(12, 101)));
}

TEST(DataLayerSegmentation, ShuffleDrawsUniformlyFromTheSeed) {
  const std::string db = FiveSampleDb();
  DataRun run(DataText(db, {"data", "label"}, "shuffle: true"), 2);
  const std::vector<int> got = LabelSequence(&run, 30);
  Rng reference(1337);  // FCN's seed, the default
  std::vector<int> expected;
  for (int i = 0; i < 30; ++i) expected.push_back(static_cast<int>(reference.UniformInt(5)));
  EXPECT_EQ(got, expected);
  // With replacement: some sample repeats within the first six draws of five samples.
  EXPECT_LT(std::set<int>(got.begin(), got.begin() + 6).size(), 6u);
}

TEST(DataLayerSegmentation, SameSeedSameOrderOtherSeedAnother) {
  const std::string db = FiveSampleDb();
  DataRun a(DataText(db, {"data", "label"}, "shuffle: true seed: 7 prefetch: 1"), 2);
  DataRun b(DataText(db, {"data", "label"}, "shuffle: true seed: 7 prefetch: 8"), 2);
  DataRun c(DataText(db, {"data", "label"}, "shuffle: true seed: 8"), 2);
  const std::vector<int> sa = LabelSequence(&a, 20);
  EXPECT_EQ(sa, LabelSequence(&b, 20));
  EXPECT_NE(sa, LabelSequence(&c, 20));
}

TEST(DataLayerSegmentation, BatchTwoPadsImagesWithZeroAndLabelsWith255) {
  const Sample s0 = RawSample(0, 2, 3);
  const Sample s1 = RawSample(1, 3, 2);
  const std::string db = WriteSegDb({s0, s1}, {"data", "label"});
  DataRun run(DataText(db, {"data", "label"}, "",
                       "transform_param { mean_value: 10 mean_value: 20 mean_value: 30 }", 2),
              2);
  run.Forward();
  ASSERT_EQ(run.TopShape(0), (Shape{2, 3, 3, 3}));
  ASSERT_EQ(run.TopShape(1), (Shape{2, 1, 3, 3}));
  // Naive reference: each image at the top-left of a zero (label: 255) 3x3 canvas.
  std::vector<float> data(54, 0.0f);
  std::vector<float> label(18, 255.0f);
  const int hs[2] = {2, 3};
  const int ws[2] = {3, 2};
  const float mean[3] = {10, 20, 30};
  for (int n = 0; n < 2; ++n) {
    const Bytes x = RandomBytes(static_cast<std::size_t>(3 * hs[n] * ws[n]), 100 + n);
    for (int c = 0; c < 3; ++c) {
      for (int y = 0; y < hs[n]; ++y) {
        for (int z = 0; z < ws[n]; ++z) {
          data[static_cast<std::size_t>(((n * 3 + c) * 3 + y) * 3 + z)] =
              x[static_cast<std::size_t>((c * hs[n] + y) * ws[n] + z)] - mean[c];
          if (c == 0) label[static_cast<std::size_t>((n * 3 + y) * 3 + z)] = static_cast<float>(n);
        }
      }
    }
  }
  EXPECT_TRUE(AllNear(run.Top(0), data, 1e-5f));
  EXPECT_EQ(run.Top(1), label);
}

TEST(DataLayerSegmentation, PadLabelIsConfigurable) {
  const std::string db = WriteSegDb({RawSample(0, 1, 2), RawSample(1, 2, 1)}, {"data", "label"});
  DataRun run(DataText(db, {"data", "label"}, "pad_label: 11", "", 2), 2);
  run.Forward();
  EXPECT_EQ(run.Top(1), (std::vector<float>{0, 0, 11, 11, 1, 11, 1, 11}));
}

// ---------------------------------------------------------------------------------------
// 3. Caffe mode.

// Record i: 1x1x2 raw pixels {i, 100 + i}, label 10 * i.
std::string CountingCaffeDb(int n) {
  std::vector<Datum> records;
  for (int i = 0; i < n; ++i) {
    records.push_back(RawDatum(
        1, 1, 2, {static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(100 + i)}, 10 * i));
  }
  return WriteCaffeDb(records);
}

TEST(DataLayerCaffe, ReadsSequentiallyAndWraps) {
  DataRun run(DataText(CountingCaffeDb(5), {"data", "label"}, "", "", 2), 2);
  EXPECT_EQ(run.TopShape(0), (Shape{2, 1, 1, 2}));
  EXPECT_EQ(run.TopShape(1), (Shape{2}));
  const std::vector<std::vector<int>> order = {{0, 1}, {2, 3}, {4, 0}, {1, 2}, {3, 4}, {0, 1}};
  for (const auto& pair : order) {
    run.Forward();
    const float a = static_cast<float>(pair[0]);
    const float b = static_cast<float>(pair[1]);
    EXPECT_EQ(run.Top(0), (std::vector<float>{a, 100 + a, b, 100 + b}));
    EXPECT_EQ(run.Top(1), (std::vector<float>{10 * a, 10 * b}));
  }
}

TEST(DataLayerCaffe, EncodedColourAndGrayPng) {
  const Bytes bgr = RandomBytes(3 * 3 * 4, 77);
  const Bytes gray = RandomBytes(3 * 4, 78);
  const std::string db = WriteCaffeDb({EncodedDatum(Encode(bgr, 3, 3, 4, ".png"), 3, 3, 4, 5),
                                       EncodedDatum(Encode(gray, 1, 3, 4, ".png"), 1, 3, 4, 6)});
  DataRun run(DataText(db, {"data", "label"}, "", "transform_param { scale: 0.25 }"), 2);
  run.Forward();
  EXPECT_EQ(run.TopShape(0), (Shape{1, 3, 3, 4}));
  EXPECT_TRUE(AllNear(run.Top(0), MeanScale(ToFloat(bgr), 3, {0}, 0.25f), 1e-6f));
  EXPECT_EQ(run.Top(1), (std::vector<float>{5}));
  run.Forward();
  EXPECT_EQ(run.TopShape(0), (Shape{1, 1, 3, 4}));
  EXPECT_TRUE(AllNear(run.Top(0), MeanScale(ToFloat(gray), 1, {0}, 0.25f), 1e-6f));
}

TEST(DataLayerCaffe, ForceEncodedColorExpandsGray) {
  const std::string png = Encode(RandomBytes(6, 3), 1, 2, 3, ".png");
  const std::string db = WriteCaffeDb({EncodedDatum(png, 1, 2, 3)});
  DataRun run(DataText(db, {"data"}, "force_encoded_color: true"), 1);
  EXPECT_EQ(run.TopShape(0), (Shape{1, 3, 2, 3}));
  run.Forward();
  EXPECT_EQ(run.Top(0), OpenCvDecode(png, cv::IMREAD_COLOR));
}

TEST(DataLayerCaffe, MeanFileIsSubtractedPerPixelThenScaled) {
  const Bytes x = RandomBytes(2 * 3 * 4, 5);
  const std::string db = WriteCaffeDb({RawDatum(2, 3, 4, x)});
  BlobProto mean;
  for (const std::int64_t d : {1, 2, 3, 4}) mean.mutable_shape()->add_dim(d);
  std::vector<float> m(24);
  for (int i = 0; i < 24; ++i) {
    m[static_cast<std::size_t>(i)] = 0.5f * static_cast<float>(i);
    mean.add_data(m[static_cast<std::size_t>(i)]);
  }
  const std::string mean_file = TempDir() + "/mean.binaryproto";
  WriteProtoToBinaryFile(mean, mean_file);
  DataRun run(DataText(db, {"data"}, "",
                       StrCat("transform_param { mean_file: \"", mean_file, "\" scale: 2 }")),
              1);
  run.Forward();
  std::vector<float> expected(24);
  for (std::size_t i = 0; i < 24; ++i) expected[i] = (static_cast<float>(x[i]) - m[i]) * 2.0f;
  EXPECT_TRUE(AllNear(run.Top(0), expected, 1e-5f));
}

TEST(DataLayerCaffe, MeanFileOfAnotherSizeIsAnError) {
  const std::string db = WriteCaffeDb({RawDatum(1, 2, 2, Bytes(4, 1))});
  BlobProto mean;
  for (const std::int64_t d : {1, 1, 3, 3}) mean.mutable_shape()->add_dim(d);
  for (int i = 0; i < 9; ++i) mean.add_data(0);
  const std::string mean_file = TempDir() + "/mean.binaryproto";
  WriteProtoToBinaryFile(mean, mean_file);
  EXPECT_THAT(SetUpError(DataText(db, {"data"}, "",
                                  StrCat("transform_param { mean_file: \"", mean_file, "\" }")),
                         1),
              HasSubstr("the image is 1x2x2 but the mean file is 1x3x3"));
}

// The crop of CHW pixels x (c x h x w) at (h_off, w_off), k x k, optionally mirrored.
std::vector<float> NaiveCrop(const Bytes& x, int c, int h, int w, int k, int h_off, int w_off,
                             bool mirror) {
  std::vector<float> out;
  for (int ch = 0; ch < c; ++ch) {
    for (int y = 0; y < k; ++y) {
      for (int z = 0; z < k; ++z) {
        const int src = mirror ? k - 1 - z : z;
        out.push_back(x[static_cast<std::size_t>((ch * h + y + h_off) * w + src + w_off)]);
      }
    }
  }
  return out;
}

TEST(DataLayerCaffe, CropIsCentredInTest) {
  const Bytes x = RandomBytes(2 * 7 * 9, 6);
  const std::string db = WriteCaffeDb({RawDatum(2, 7, 9, x)});
  DataRun run(DataText(db, {"data"}, "", "phase: TEST transform_param { crop_size: 4 }"), 1);
  EXPECT_EQ(run.TopShape(0), (Shape{1, 2, 4, 4}));
  for (int i = 0; i < 3; ++i) {
    run.Forward();
    EXPECT_EQ(run.Top(0), NaiveCrop(x, 2, 7, 9, 4, 1, 2, false));
  }
}

// The (h_off, w_off) of each of n forwards, matched against every possible crop.
std::vector<std::pair<int, int>> CropOffsets(DataRun* run, const Bytes& x, int c, int h, int w,
                                             int k, int n) {
  std::vector<std::pair<int, int>> out;
  for (int i = 0; i < n; ++i) {
    run->Forward();
    const std::vector<float> got = run->Top(0);
    std::pair<int, int> found(-1, -1);
    for (int ho = 0; ho <= h - k; ++ho) {
      for (int wo = 0; wo <= w - k; ++wo) {
        if (got == NaiveCrop(x, c, h, w, k, ho, wo, false)) found = {ho, wo};
      }
    }
    EXPECT_NE(found.first, -1) << "forward " << i << " is no crop of the image";
    out.push_back(found);
  }
  return out;
}

TEST(DataLayerCaffe, CropIsRandomInTrainAndFollowsTheGlobalSeed) {
  const Bytes x = RandomBytes(1 * 6 * 7, 8);
  const std::string db = WriteCaffeDb({RawDatum(1, 6, 7, x)});
  const std::string text = DataText(db, {"data"}, "", "transform_param { crop_size: 4 }");
  DataRun a(text, 1, /*seed=*/11);
  const auto offsets = CropOffsets(&a, x, 1, 6, 7, 4, 25);
  const std::set<std::pair<int, int>> distinct(offsets.begin(), offsets.end());
  EXPECT_GT(distinct.size(), 3u);
  DataRun b(text, 1, /*seed=*/11);
  EXPECT_EQ(CropOffsets(&b, x, 1, 6, 7, 4, 25), offsets);
  DataRun c(text, 1, /*seed=*/12);
  EXPECT_NE(CropOffsets(&c, x, 1, 6, 7, 4, 25), offsets);
}

TEST(DataLayerCaffe, MirrorFlipsAboutHalfTheImagesEvenInTest) {
  const Bytes x = RandomBytes(2 * 3 * 5, 9);
  const std::string db = WriteCaffeDb({RawDatum(2, 3, 5, x)});
  DataRun run(
      DataText(db, {"data"}, "", "phase: TEST transform_param { mirror: true mean_value: 3 }"), 1);
  int flipped = 0;
  const int n = 40;
  for (int i = 0; i < n; ++i) {
    run.Forward();
    const std::vector<float> got = run.Top(0);
    // Full-width mirror reference: column z <- W - 1 - z.
    std::vector<float> mirrored(30);
    std::vector<float> unmirrored(30);
    for (int c = 0; c < 2; ++c) {
      for (int y = 0; y < 3; ++y) {
        for (int z = 0; z < 5; ++z) {
          const float v = x[static_cast<std::size_t>((c * 3 + y) * 5 + z)] - 3.0f;
          unmirrored[static_cast<std::size_t>((c * 3 + y) * 5 + z)] = v;
          mirrored[static_cast<std::size_t>((c * 3 + y) * 5 + 4 - z)] = v;
        }
      }
    }
    ASSERT_TRUE(got == mirrored || got == unmirrored) << "forward " << i;
    if (got == mirrored) ++flipped;
  }
  EXPECT_GT(flipped, 5);
  EXPECT_LT(flipped, n - 5);
}

TEST(DataLayerCaffe, ImageAndLabelDatabasesStayInStep) {
  // Caffe's FCN staging: one DB of images, one of label maps, same keys, batch 1 each.
  std::vector<Datum> images;
  std::vector<Datum> labels;
  for (int i = 0; i < 4; ++i) {
    images.push_back(EncodedDatum(
        Encode(Bytes(3 * 2 * 3, static_cast<std::uint8_t>(10 * i + 1)), 3, 2, 3, ".png"), 3, 2, 3));
    labels.push_back(RawDatum(1, 2, 3, Bytes(6, static_cast<std::uint8_t>(i))));
  }
  const std::string image_db = WriteCaffeDb(images, "images");
  const std::string label_db = WriteCaffeDb(labels, "labels");
  DataRun image_layer(DataText(image_db, {"data"}, "", "transform_param { mean_value: 1 }"), 1);
  DataRun label_layer(DataText(label_db, {"label"}), 1);
  for (int i = 0; i < 11; ++i) {
    image_layer.Forward();
    label_layer.Forward();
    const float k = static_cast<float>(i % 4);
    EXPECT_EQ(image_layer.Top(0), std::vector<float>(18, 10.0f * k));
    EXPECT_EQ(label_layer.Top(0), std::vector<float>(6, k));
  }
}

TEST(DataLayerCaffe, DataLayerInANet) {
  const std::string db = CountingCaffeDb(3);
  auto net = MakeNet(StrCat(
      R"pb(
        name: "n"
        layer { name: "data" type: "Data" top: "data" top: "label"
                data_param { source: ")pb",
      db, R"pb(" backend: LMDB batch_size: 1 } }
               layer { name: "silence" type: "Silence" bottom: "data" bottom: "label" })pb"));
  net->Forward();
  net->Forward();
  EXPECT_EQ(Data(*net->blob_by_name("data")), (std::vector<float>{1, 101}));
  EXPECT_EQ(Data(*net->blob_by_name("label")), (std::vector<float>{10}));
}

// ---------------------------------------------------------------------------------------
// 4. The prefetch thread and the saved state.

TEST(DataLayerPrefetch, DestroyedRightAfterSetUpOrMidStream) {
  std::vector<Sample> samples;
  for (int i = 0; i < 20; ++i) samples.push_back(RawSample(i, 32, 32));
  const std::string db = WriteSegDb(samples, {"data", "label"});
  for (int round = 0; round < 10; ++round) {
    DataRun run(DataText(db, {"data", "label"}, "prefetch: 4 shuffle: true"), 2);
    for (int i = 0; i < round; ++i) run.Forward();
  }
  // And once the thread has filled every slot and waits.
  DataRun run(DataText(db, {"data", "label"}, "prefetch: 2"), 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

TEST(DataLayerPrefetch, DestroyedAfterTheThreadStoppedOnAnError) {
  const std::string dir = TempDir() + "/bad";
  {
    LmdbWriter writer(dir);
    writer.Put("00000000_a", RawDatum(1, 1, 1, {1}).SerializeAsString());
    writer.Put("00000001_b", "garbage");
  }
  DataRun run(DataText(dir, {"data"}), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

// n forwards' tops, all of them.
std::vector<std::vector<float>> Outputs(DataRun* run, int n) {
  std::vector<std::vector<float>> out;
  for (int i = 0; i < n; ++i) {
    run->Forward();
    for (std::size_t t = 0; t < run->tops.vec.size(); ++t) out.push_back(run->Top(t));
  }
  return out;
}

TEST(DataLayerState, SegmentationShuffleResumesExactly) {
  const std::string text = DataText(FiveSampleDb(), {"data", "label"}, "shuffle: true prefetch: 4");
  DataRun a(text, 2);
  Outputs(&a, 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the thread reads ahead
  const std::string state = a.layer->SaveState();
  const auto continued = Outputs(&a, 8);
  DataRun b(text, 2);
  b.layer->RestoreState(state);
  EXPECT_EQ(Outputs(&b, 8), continued);
  a.layer->RestoreState(state);  // rewinding the same layer
  EXPECT_EQ(Outputs(&a, 8), continued);
}

TEST(DataLayerState, TheOlderTextStateOfEarlierSolverstatesIsStillRead) {
  // The state is a DataReaderState message now; .solverstate files of earlier versions hold
  // the text form, which restores the same position and order RNG.
  const std::string sequential = DataText(FiveSampleDb(), {"data", "label"}, "", "", 1);
  DataRun old(sequential, 2);
  old.layer->RestoreState("fcn-data-state 1\nkind segmentation\nrecords 5\nposition 3");
  EXPECT_EQ(LabelSequence(&old, 3), (std::vector<int>{3, 4, 0}));
  EXPECT_THAT(
      ConfigErrorOf([&] { old.layer->RestoreState("fcn-data-state 1\nkind segmentation"); }),
      HasSubstr("the saved Data layer state has no \"records\" entry"));

  const std::string shuffled =
      DataText(FiveSampleDb(), {"data", "label"}, "shuffle: true prefetch: 4");
  DataRun a(shuffled, 2);
  Outputs(&a, 3);
  DataReaderState saved;
  ASSERT_TRUE(saved.ParseFromString(a.layer->SaveState()));
  ASSERT_TRUE(saved.has_order_rng());
  const auto continued = Outputs(&a, 6);
  DataRun b(shuffled, 2);
  b.layer->RestoreState(StrCat("fcn-data-state 1\nkind ", saved.kind(), "\nrecords ",
                               saved.records(), "\nposition ", saved.position(), "\norder ",
                               saved.order_rng()));
  EXPECT_EQ(Outputs(&b, 6), continued);
}

TEST(DataLayerState, SequentialResumesAcrossTheWrap) {
  const std::string text = DataText(FiveSampleDb(), {"data", "label"}, "", "", 2);
  DataRun a(text, 2);
  Outputs(&a, 2);  // samples 0..3 handed out
  const std::string state = a.layer->SaveState();
  const auto continued = Outputs(&a, 4);
  DataRun b(text, 2);
  b.layer->RestoreState(state);
  EXPECT_EQ(Outputs(&b, 4), continued);
  EXPECT_EQ(LabelSequence(&b, 1), (std::vector<int>{2}));  // 4,0 | 1,2 | 3,4 | 0,1 | 2,3
}

TEST(DataLayerState, CaffeModeWithCropAndMirrorResumesExactly) {
  std::vector<Datum> records;
  for (int i = 0; i < 3; ++i) records.push_back(RawDatum(1, 5, 6, RandomBytes(30, 50 + i), i));
  const std::string text = DataText(WriteCaffeDb(records), {"data", "label"}, "",
                                    "transform_param { crop_size: 3 mirror: true }");
  DataRun a(text, 2, /*seed=*/3);
  Outputs(&a, 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  const std::string state = a.layer->SaveState();
  const auto continued = Outputs(&a, 10);
  DataRun b(text, 2, /*seed=*/99);  // another transformer seed: the state must override it
  b.layer->RestoreState(state);
  EXPECT_EQ(Outputs(&b, 10), continued);
}

TEST(DataLayerState, StateBeforeTheFirstForwardRestartsFromTheBeginning) {
  const std::string text = DataText(CountingCaffeDb(4), {"data", "label"});
  DataRun a(text, 2);
  const std::string initial = a.layer->SaveState();
  const auto first = Outputs(&a, 6);
  a.layer->RestoreState(initial);
  EXPECT_EQ(Outputs(&a, 6), first);
}

}  // namespace
}  // namespace fcn::test
