# libmart packaging, included by the top-level CMakeLists.txt after mart_shared is defined:
#  - libmart.a (target mart_static): every module object libmart.so holds, in one archive;
#  - `cmake --install`: include/mart/mart.h, libmart.so*, libmart.a, libmart_cuda.so when built,
#    the CMake package (find_package(mart): mart::mart shared, mart::mart_static) and
#    lib/pkgconfig/mart.pc.
# Why one archive from the modules' objects rather than the module archives side by side: a
# consumer links one file, and the link order between modules cannot go wrong.
include(CMakePackageConfigHelpers)

# The modules libmart is made of, top to bottom (as mart_capi's dependencies; no cuda/).
set(_mart_modules mart_capi mart_profiler mart_runtime mart_planner mart_memory mart_kernels
    mart_config mart_io mart_layout mart_device mart_common)
set(_mart_objects)
foreach(_m ${_mart_modules})
  get_target_property(_type ${_m} TYPE)
  if(_type STREQUAL "STATIC_LIBRARY")  # an interface library (no sources) has no objects
    list(APPEND _mart_objects $<TARGET_OBJECTS:${_m}>)
  endif()
endforeach()
# io's TensorBoard codec is a prebuilt object (CMakeLists.txt), which TARGET_OBJECTS leaves out.
list(APPEND _mart_objects ${MART_TB_CODEC_OBJECT})
add_library(mart_static STATIC ${_mart_objects})
set_target_properties(mart_static PROPERTIES OUTPUT_NAME mart LINKER_LANGUAGE CXX
  ARCHIVE_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR} EXPORT_NAME mart_static)
add_dependencies(mart_static ${_mart_modules})

# What a static consumer links besides libmart.a, as -l names, so that the package and mart.pc
# do not carry this machine's paths: OpenBLAS, yaml-cpp, hwloc, jemalloc, sentencepiece, the
# OpenMP runtime, the C++ runtime (a C program links with cc), threads, libdl.
function(_mart_lib_name out path)
  get_filename_component(_n ${path} NAME_WE)
  string(REGEX REPLACE "^lib" "" _n ${_n})
  set(${out} ${_n} PARENT_SCOPE)
endfunction()
set(MART_STATIC_DEPS)
foreach(_lib ${BLAS_LIBRARIES})
  _mart_lib_name(_n ${_lib})
  list(APPEND MART_STATIC_DEPS ${_n})
endforeach()
get_target_property(_yaml yaml-cpp LOCATION)
_mart_lib_name(_n ${_yaml})
list(APPEND MART_STATIC_DEPS ${_n} ${HWLOC_LIBRARIES} ${JEMALLOC_LIBRARIES}
     ${SENTENCEPIECE_LIBRARIES} ${OpenMP_CXX_LIB_NAMES} stdc++ m ${CMAKE_DL_LIBS})
list(REMOVE_DUPLICATES MART_STATIC_DEPS)
list(TRANSFORM MART_STATIC_DEPS PREPEND "-l" OUTPUT_VARIABLE _pc_private)
list(JOIN _pc_private " " MART_PC_LIBS_PRIVATE)
message(STATUS "MART: libmart.a links ${MART_PC_LIBS_PRIVATE}")

target_include_directories(mart_shared INTERFACE $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                                 $<INSTALL_INTERFACE:include>)
target_include_directories(mart_static INTERFACE $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                                 $<INSTALL_INTERFACE:include>)
target_link_libraries(mart_static INTERFACE ${MART_STATIC_DEPS})
set_target_properties(mart_shared PROPERTIES EXPORT_NAME mart)

install(FILES ${PROJECT_SOURCE_DIR}/include/mart/mart.h DESTINATION include/mart)
install(TARGETS mart_shared mart_static EXPORT martTargets
        LIBRARY DESTINATION lib ARCHIVE DESTINATION lib)
if(TARGET mart_cuda)
  # The loader looks for it next to libmart.so (device/cuda_backend.h).
  install(TARGETS mart_cuda LIBRARY DESTINATION lib)
endif()
install(EXPORT martTargets NAMESPACE mart:: FILE martTargets.cmake DESTINATION lib/cmake/mart)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/martConfig.cmake.in
  ${PROJECT_BINARY_DIR}/packaging/martConfig.cmake INSTALL_DESTINATION lib/cmake/mart)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/packaging/martConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/packaging/martConfig.cmake
              ${PROJECT_BINARY_DIR}/packaging/martConfigVersion.cmake DESTINATION lib/cmake/mart)
configure_file(${CMAKE_CURRENT_LIST_DIR}/mart.pc.in ${PROJECT_BINARY_DIR}/packaging/mart.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/packaging/mart.pc DESTINATION lib/pkgconfig)
