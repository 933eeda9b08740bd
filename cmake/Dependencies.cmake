# System dependencies, all from Debian 12 packages (scripts/setup installs them).
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(CURL REQUIRED)
find_package(Boost 1.81.0 EXACT CONFIG REQUIRED COMPONENTS json url)
# Boost.Asio and Beast configuration macros change what inline functions do,
# so every translation unit must see the same ones, not only those that link
# blobsync_http: with BOOST_ASIO_NO_DEPRECATED on some files and not others,
# the linker kept one definition of the inline asio_handler_allocate(size_t,
# ...), the one that returns null, and room_client.cpp (built without the
# macro) placement-new'ed its resolve operation there (UBSan: "constructor
# call on null pointer of type 'struct op'" in async_resolve).
add_compile_definitions(BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
# sd_notify and socket activation (Debian libsystemd-dev; no-ops without systemd).
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
find_library(MAGIC_LIBRARY magic REQUIRED)
find_path(MAGIC_INCLUDE_DIR magic.h REQUIRED)
add_library(blobsync_magic INTERFACE)
target_link_libraries(blobsync_magic INTERFACE ${MAGIC_LIBRARY})
target_include_directories(blobsync_magic SYSTEM INTERFACE ${MAGIC_INCLUDE_DIR})
# libpq for the PostgreSQL metadata backend (Debian libpq-dev).
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
