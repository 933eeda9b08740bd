# The page `blobsync serve` shows at / (web/): its files are compiled into
# the binary as web_assets.cpp (src/http/web_assets.h), generated here:
#   1. blobsync-client.js: esbuild bundles the JS client (clients/js/src, and
#      the yjs/lib0/y-protocols it imports from clients/js/node_modules) for
#      browsers. Built, never committed; the tools come from scripts/setup
#      (npm ci in web/ and clients/js/). Without them the build still works
#      and the page says what is missing (cmake/BundleClient.cmake).
#   2. web_assets.cpp: every web/*.html|js|css|svg (but the bundle's entry) and
#      the bundle as byte arrays, with their types and ETags.
# Sets BLOBSYNC_WEB_ASSETS_CPP.
set(_web ${PROJECT_SOURCE_DIR}/web)
set(_out ${CMAKE_BINARY_DIR}/web)
file(MAKE_DIRECTORY ${_out})
file(GLOB _client_src CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/clients/js/src/*.ts)
file(GLOB _web_files CONFIGURE_DEPENDS ${_web}/*.html ${_web}/*.js ${_web}/*.css ${_web}/*.svg)
list(REMOVE_ITEM _web_files ${_web}/client-entry.js)
set(_lock_files)
foreach(_lock ${_web}/package-lock.json ${PROJECT_SOURCE_DIR}/clients/js/package-lock.json)
  if(EXISTS ${_lock})
    list(APPEND _lock_files ${_lock})
  endif()
endforeach()

add_custom_command(
  OUTPUT ${_out}/blobsync-client.js
  COMMAND ${CMAKE_COMMAND} -DROOT=${PROJECT_SOURCE_DIR} -DOUT=${_out}/blobsync-client.js
          -P ${PROJECT_SOURCE_DIR}/cmake/BundleClient.cmake
  DEPENDS ${_web}/client-entry.js ${_client_src} ${_lock_files} ${PROJECT_SOURCE_DIR}/cmake/BundleClient.cmake
  COMMENT "Bundling the JS client for the web page (esbuild)"
  VERBATIM)

set(BLOBSYNC_WEB_ASSETS_CPP ${_out}/web_assets.cpp)
add_custom_command(
  OUTPUT ${BLOBSYNC_WEB_ASSETS_CPP}
  COMMAND ${CMAKE_COMMAND} -DOUT=${BLOBSYNC_WEB_ASSETS_CPP} "-DFILES=${_web_files};${_out}/blobsync-client.js"
          -P ${PROJECT_SOURCE_DIR}/cmake/EmbedFiles.cmake
  DEPENDS ${_web_files} ${_out}/blobsync-client.js ${PROJECT_SOURCE_DIR}/cmake/EmbedFiles.cmake
  COMMENT "Embedding the web page"
  VERBATIM)
