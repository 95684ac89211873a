# privnn-config.cmake - find_package(privnn): the imported target privnn::privnn (libprivnn.so and
# its headers, used as #include <privnn/privnn.h>). Its dependencies are linked into the shared
# library, so a program needs nothing else.
include("${CMAKE_CURRENT_LIST_DIR}/privnnTargets.cmake")
set(privnn_LIBRARIES privnn::privnn)
