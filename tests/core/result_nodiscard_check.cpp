// Must NOT compile: every line below drops a Result, which core/error.h makes
// [[nodiscard]]. The test core.result_is_nodiscard builds this file and
// passes only when the compiler refuses it for that reason (warnings are
// errors). A cast to (void) is the way to drop one on purpose.
#include "core/error.h"

namespace blobsync {

Result<> make_nothing();
Result<int> make_int();
BasicResult<int, int> make_other();

void drops() {
  make_nothing();
  make_int();
  make_other();
  (void)make_nothing();  // allowed: a deliberate drop
}

}  // namespace blobsync
