# `cmake --install`: libgraphrun, the public headers, the `graphrun` tool, a CMake
# package (find_package(graphrun) -> graphrun::graphrun) and a pkg-config file.
include(CMakePackageConfigHelpers)

set(GRAPHRUN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/graphrun)
install(TARGETS graphrun EXPORT graphrunTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS graphrun_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The installed tool finds a shared libgraphrun beside it, wherever the prefix is moved.
file(RELATIVE_PATH GRAPHRUN_BIN_TO_LIB /prefix/${CMAKE_INSTALL_BINDIR} /prefix/${CMAKE_INSTALL_LIBDIR})
set_target_properties(graphrun_cli PROPERTIES INSTALL_RPATH "$ORIGIN/${GRAPHRUN_BIN_TO_LIB}")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/graphrun DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT graphrunTargets NAMESPACE graphrun:: DESTINATION ${GRAPHRUN_CMAKE_DIR})

# The config finds what a static libgraphrun must be linked with.
if(BUILD_SHARED_LIBS)
  set(GRAPHRUN_STATIC_LIBRARY OFF)
else()
  set(GRAPHRUN_STATIC_LIBRARY ON)
endif()
configure_package_config_file(cmake/graphrunConfig.cmake.in ${PROJECT_BINARY_DIR}/graphrunConfig.cmake
                              INSTALL_DESTINATION ${GRAPHRUN_CMAKE_DIR})
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/graphrunConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/graphrunConfig.cmake ${PROJECT_BINARY_DIR}/graphrunConfigVersion.cmake
        DESTINATION ${GRAPHRUN_CMAKE_DIR})

# Relocatable: the prefix is found from the .pc file's own directory.
file(RELATIVE_PATH GRAPHRUN_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(cmake/graphrun.pc.in ${PROJECT_BINARY_DIR}/graphrun.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/graphrun.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
