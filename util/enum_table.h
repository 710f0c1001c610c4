// Tables indexed by an enum (a row per enumerator, looked up as
// table[static_cast<size_t>(value)]) stay in step with their enum when
// checked at compile time:
//   static_assert(ListedInEnumOrder(kTables, &TableName::table), "...");
#ifndef PUSHGATE_UTIL_ENUM_TABLE_H_
#define PUSHGATE_UTIL_ENUM_TABLE_H_

#include <cstddef>

namespace pushgate {

// True if row i's `key` is the enumerator whose value is i, for every row.
template <typename Row, size_t N, typename Enum>
constexpr bool ListedInEnumOrder(const Row (&rows)[N], Enum Row::*key) {
  for (size_t i = 0; i < N; ++i) {
    if (static_cast<size_t>(rows[i].*key) != i) return false;
  }
  return true;
}

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_ENUM_TABLE_H_
