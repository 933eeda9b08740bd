# The page `blobsync serve` shows at / (web/): its files are compiled into
# the binary as web_assets.cpp (src/http/web_assets.h), generated here:
#   1. blobsync-client.js: esbuild bundles the JS client (clients/js/src, and
#      the yjs/lib0/y-protocols it imports from clients/js/node_modules) for
#      browsers. Built, never committed; the tools come from scripts/setup
#      (npm ci in web/ and clients/js/). Without them the build still works
#      and the page says what is missing (cmake/BundleClient.cmake).
#   2. web_assets.cpp: every web/*.html|js|css|svg (but the bundle's entry) and
#      the bundle as byte arrays, with their types and ETags.
# Sets BLOBSYNC_WEB_ASSETS_CPP; its users depend on target blobsync_web_bundle.
set(_web ${PROJECT_SOURCE_DIR}/web)
set(_out ${CMAKE_BINARY_DIR}/web)
file(MAKE_DIRECTORY ${_out})
file(GLOB _web_files CONFIGURE_DEPENDS ${_web}/*.html ${_web}/*.js ${_web}/*.css ${_web}/*.svg)
list(REMOVE_ITEM _web_files ${_web}/client-entry.js)

# Run on every build (esbuild takes a fraction of a second): so a bundle made
# before scripts/setup installed the tools is replaced once they are there.
# The file is rewritten only when it changes, so nothing downstream rebuilds
# otherwise (Ninja restats byproducts).
add_custom_target(blobsync_web_bundle
  COMMAND ${CMAKE_COMMAND} -DROOT=${PROJECT_SOURCE_DIR} -DOUT=${_out}/blobsync-client.js
          -P ${PROJECT_SOURCE_DIR}/cmake/BundleClient.cmake
  BYPRODUCTS ${_out}/blobsync-client.js
  VERBATIM)

set(BLOBSYNC_WEB_ASSETS_CPP ${_out}/web_assets.cpp)
add_custom_command(
  OUTPUT ${BLOBSYNC_WEB_ASSETS_CPP}
  COMMAND ${CMAKE_COMMAND} -DOUT=${BLOBSYNC_WEB_ASSETS_CPP} "-DFILES=${_web_files};${_out}/blobsync-client.js"
          -P ${PROJECT_SOURCE_DIR}/cmake/EmbedFiles.cmake
  DEPENDS ${_web_files} ${_out}/blobsync-client.js ${PROJECT_SOURCE_DIR}/cmake/EmbedFiles.cmake
  COMMENT "Embedding the web page"
  VERBATIM)
