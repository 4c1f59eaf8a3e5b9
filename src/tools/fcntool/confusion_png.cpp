// SPDX-License-Identifier: BSD-2-Clause
#include "tools/fcntool/confusion_png.h"

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "fcn/common.h"

namespace fcn {

void WriteConfusionPng(const ConfusionMatrix& matrix, const std::string& path,
                       const std::vector<std::string>& class_names) {
  CheckClassNames(matrix, class_names, path);
  const int n = matrix.num_classes();
  const int cell = std::clamp(640 / n, 6, 40);
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  const double font_scale = std::clamp(cell / 30.0, 0.3, 0.5);
  int label_width = 0;
  int label_height = 0;
  for (int c = 0; c < n; ++c) {
    int baseline = 0;
    const cv::Size size =
        cv::getTextSize(ClassName(class_names, c), font, font_scale, 1, &baseline);
    label_width = std::max(label_width, size.width);
    label_height = std::max(label_height, size.height + baseline);
  }
  const int margin = label_width + 8;
  const int bar = 16;  // the colour bar's width, right of the matrix
  const int grid = n * cell;
  cv::Mat image(margin + grid + 8, margin + grid + 8 + bar + 40, CV_8UC3,
                cv::Scalar(255, 255, 255));

  // Row-normalised fractions as 8-bit levels, coloured by viridis.
  cv::Mat levels(n, n, CV_8UC1, cv::Scalar(0));
  for (int i = 0; i < n; ++i) {
    const auto row = static_cast<double>(matrix.truth_count(i));
    for (int j = 0; j < n && row > 0; ++j) {
      levels.at<std::uint8_t>(i, j) = static_cast<std::uint8_t>(
          std::lround(255.0 * static_cast<double>(matrix.count(i, j)) / row));
    }
  }
  cv::Mat colours;
  cv::applyColorMap(levels, colours, cv::COLORMAP_VIRIDIS);
  for (int i = 0; i < n; ++i) {
    if (matrix.truth_count(i) == 0) colours.row(i).setTo(cv::Scalar(224, 224, 224));
  }
  cv::Mat cells;
  cv::resize(colours, cells, cv::Size(grid, grid), 0, 0, cv::INTER_NEAREST);
  cells.copyTo(image(cv::Rect(margin, margin, grid, grid)));

  // Row labels (truth) at the left, column labels (prediction) rotated along the top.
  const cv::Scalar ink(0, 0, 0);
  for (int c = 0; c < n; ++c) {
    const std::string name = ClassName(class_names, c);
    int baseline = 0;
    const cv::Size size = cv::getTextSize(name, font, font_scale, 1, &baseline);
    const int y = margin + c * cell + (cell + size.height) / 2;
    cv::putText(image, name, cv::Point(margin - 4 - size.width, y), font, font_scale, ink, 1,
                cv::LINE_AA);
    cv::Mat text(label_height, size.width + 2, CV_8UC3, cv::Scalar(255, 255, 255));
    cv::putText(text, name, cv::Point(1, size.height), font, font_scale, ink, 1, cv::LINE_AA);
    cv::Mat rotated;
    cv::rotate(text, rotated, cv::ROTATE_90_COUNTERCLOCKWISE);
    const int x = margin + c * cell + (cell - rotated.cols) / 2;
    const int top = margin - 4 - rotated.rows;
    const cv::Rect dst(std::max(x, 0), std::max(top, 0), rotated.cols, rotated.rows);
    if (dst.x + dst.width <= image.cols && dst.y + dst.height <= image.rows) {
      rotated.copyTo(image(dst));
    }
  }

  // The colour bar: 1 at the top, 0 at the bottom.
  cv::Mat ramp(grid, 1, CV_8UC1);
  for (int y = 0; y < grid; ++y) {
    ramp.at<std::uint8_t>(y, 0) =
        static_cast<std::uint8_t>(255 - (255 * y) / std::max(grid - 1, 1));
  }
  cv::Mat ramp_colours;
  cv::applyColorMap(ramp, ramp_colours, cv::COLORMAP_VIRIDIS);
  cv::Mat ramp_wide;
  cv::resize(ramp_colours, ramp_wide, cv::Size(bar, grid), 0, 0, cv::INTER_NEAREST);
  const int bar_x = margin + grid + 8;
  ramp_wide.copyTo(image(cv::Rect(bar_x, margin, bar, grid)));
  cv::putText(image, "1", cv::Point(bar_x + bar + 3, margin + 10), font, 0.4, ink, 1, cv::LINE_AA);
  cv::putText(image, "0", cv::Point(bar_x + bar + 3, margin + grid), font, 0.4, ink, 1,
              cv::LINE_AA);

  bool written = false;
  try {
    written = cv::imwrite(path, image);
  } catch (const cv::Exception& e) {
    throw RuntimeError(StrCat(path, ": cannot write the PNG: ", e.what()));
  }
  if (!written) throw RuntimeError(StrCat(path, ": cannot write the PNG"));
}

}  // namespace fcn
