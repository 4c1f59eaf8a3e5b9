// SPDX-License-Identifier: BSD-2-Clause
// fcntool's Python layers: python_embed.cpp (built with the Python module) starts an embedded
// interpreter the first time a net asks for the "Python" layer type (docs/python.md).
#pragma once

namespace fcn::tool {

/// Lets the nets of this run build "Python" layers: the first one starts Python. Without
/// Python in the build (FCN_TOOL_PYTHON undefined), a Python layer is a ConfigError naming the
/// prototxt file:line and the layer.
void InstallPythonLayers();

}  // namespace fcn::tool
