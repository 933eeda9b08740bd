# cmake -DROOT=<source dir> -DOUT=<file> -P BundleClient.cmake
# Bundles web/client-entry.js (the JS client and its yjs) with esbuild for
# browsers. Node-only parts stay out: node:* builtins and `ws` are never
# loaded in a browser, and the file-system cache (fs-cache.js, which imports
# node:fs at its top) is left as a lazy import the browser never makes.
# Missing tools give a bundle that throws an error saying so, so the server
# builds anyway and the page shows what to run.
set(esbuild ${ROOT}/web/node_modules/.bin/esbuild)
set(deps ${ROOT}/clients/js/node_modules)
if(NOT EXISTS ${esbuild} OR NOT EXISTS ${deps}/yjs)
  message(WARNING "web page: esbuild or the JS client's packages are missing (run scripts/setup); "
                  "the page at / will show an error instead of the room view")
  file(WRITE ${OUT}.tmp "throw new Error('this server was built without the JS client bundle: run scripts/setup, then rebuild')\n")
  file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
  file(REMOVE ${OUT}.tmp)
  return()
endif()
set(ENV{NODE_PATH} ${deps})
execute_process(
  COMMAND ${esbuild} ${ROOT}/web/client-entry.js --bundle --format=esm --platform=browser --target=es2022
          --minify --legal-comments=none --log-level=warning
          --external:node:* --external:ws --external:*/fs-cache.js --outfile=${OUT}.tmp
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "web page: esbuild failed (${rc})")
endif()
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
