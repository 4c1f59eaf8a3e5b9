// SPDX-License-Identifier: BSD-2-Clause
// Helpers shared by the tests: layers and nets from prototxt strings, seeded blobs,
// comparisons, and matchers for located errors.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fcn/blob.h"
#include "fcn/layer.h"
#include "fcn/net.h"

namespace fcn::test {

/// Parses a text LayerParameter (fails the test on a syntax error). The phase defaults to
/// TRAIN unless the text sets it.
LayerParameter ParseLayerParam(const std::string& text);
/// Creates a layer through the registry from a text LayerParameter.
std::unique_ptr<Layer> MakeLayer(const std::string& text);
/// Builds a Net from a text NetParameter.
std::unique_ptr<Net> MakeNet(const std::string& text);
/// The same, run with `options` (device, engine, seed of the net's Rng).
std::unique_ptr<Net> MakeNet(const std::string& text, const Options& options);

/// Blob of the given shape filled from N(mean, std) / U(lo, hi) with a fixed seed.
std::unique_ptr<Blob> GaussianBlob(const std::vector<std::int64_t>& shape, std::uint32_t seed,
                                   float mean = 0.0f, float std = 1.0f);
std::unique_ptr<Blob> UniformBlob(const std::vector<std::int64_t>& shape, std::uint32_t seed,
                                  float lo, float hi);
void FillGaussian(Blob* blob, std::uint32_t seed, float mean = 0.0f, float std = 1.0f);
void FillUniform(Blob* blob, std::uint32_t seed, float lo, float hi);

std::vector<float> Data(const Blob& blob);
std::vector<float> Diff(const Blob& blob);

/// Element-wise |a - b| <= atol + rtol * |b|, reporting the first few mismatches.
::testing::AssertionResult AllNear(const std::vector<float>& actual,
                                   const std::vector<float>& expected, float atol,
                                   float rtol = 0.0f);

/// Runs fn and returns the ConfigError it throws (fails the test when it throws nothing).
template <class Fn>
std::string ConfigErrorOf(Fn&& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ConfigError, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected ConfigError, nothing was thrown";
  return "";
}

/// What a command printed (stdout and stderr together) and its exit status (128 + signal
/// when it was killed).
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
/// Runs a shell command, in `cwd` when given.
CommandResult RunShell(const std::string& command, const std::string& cwd = "");
/// Runs the fcntool built with the tests, in `cwd` when given: RunFcntool("check --model=x").
CommandResult RunFcntool(const std::string& args, const std::string& cwd = "");
/// Copies `values` into the blob's data (or its diff); a count that differs from the blob's
/// fails the test.
void SetValues(Blob* blob, const std::vector<float>& values, bool diff = false);
/// SetValues into the diff.
void SetDiff(Blob* blob, const std::vector<float>& values);
/// Writes `text` to `path` (replacing it) and returns the path.
std::string WriteFile(const std::string& path, const std::string& text);
/// WriteFile(dir + "/" + name, text).
std::string WriteFile(const std::string& dir, const std::string& name, const std::string& text);
/// The bytes of a file ("" when it cannot be read).
std::string ReadFile(const std::string& path);
/// Starts the fcntool built with the tests in the background, in `cwd`, with its stdout and
/// stderr in `log`; returns its pid (-1 when it could not start).
int SpawnFcntool(const std::string& cwd, const std::vector<std::string>& args,
                 const std::string& log);
/// Waits until `text` appears in the file `path`; false after `seconds`.
bool WaitForText(const std::string& path, const std::string& text, int seconds);

/// The root of the shared data (../shared beside the checkout), or "" when absent.
std::string SharedDir();
/// The project's source directory (for models/ and tests/data/).
std::string SourceDir();
/// A fresh temporary directory for this test. It is removed when the test ends, if it passed
/// (a directory made outside a test, e.g. in SetUpTestSuite, when the whole program ends, if
/// no test failed); a failed test keeps its directories and names them on stderr.
/// FCN_KEEP_TEST_DIRS=1 keeps them all. The removal needs InstallTempDirCleanup(), which the
/// tests' main() calls.
std::string TempDir();
/// Installs the gtest listener that removes TempDir()'s directories (see there).
void InstallTempDirCleanup();

}  // namespace fcn::test
