# SPDX-License-Identifier: BSD-2-Clause
# fcn_set_warnings(target): the project's warning set (+ -Werror with FCN_WERROR) and
# sanitizers (FCN_SANITIZE).
function(fcn_set_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wsign-compare -Wnon-virtual-dtor>)
  # nvcc: its own warnings, and the host compiler's on the host half of .cu files.
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>)
  if(FCN_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>
      $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings -Xcompiler=-Werror>)
  endif()
endfunction()

if(FCN_SANITIZE)
  string(REPLACE ";" "," _fcn_san "${FCN_SANITIZE}")
  add_compile_options(-fsanitize=${_fcn_san} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${_fcn_san})
endif()
