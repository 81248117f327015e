# GW_SANITIZE=ON: AddressSanitizer and UndefinedBehaviorSanitizer on every host
# C/C++ target of the build (the library, its static twin, tests, tools,
# examples), so a memory error or UB in any of them fails the test that hit it.
# scripts/sanitized_tests.sh is the way to run it (a separate build, CUDA off).
option(GW_SANITIZE "Build library, tests and tools with -fsanitize=address,undefined" OFF)
if(GW_SANITIZE)
  # -fno-sanitize-recover=undefined: UBSan otherwise prints and carries on, and the
  # test passes; with it, the first finding aborts the process. Frame pointers keep
  # the reports' stacks whole with the fast unwinder.
  set(_gw_san_flags -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  # Only the host compilers: nvcc takes none of these, and device code has no ASan.
  # .cu files are therefore not instrumented (their host parts included).
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:${_gw_san_flags}>")
  add_link_options(-fsanitize=address,undefined)
  message(STATUS "GW_SANITIZE=ON: host code built with ${_gw_san_flags}")
endif()
