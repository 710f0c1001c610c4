// "Did you mean ...?": the known word nearest to a mistyped one, for error
// messages about unknown config keys and commands.
#ifndef PUSHGATE_UTIL_SPELLING_H_
#define PUSHGATE_UTIL_SPELLING_H_

#include <span>
#include <string>
#include <string_view>

namespace pushgate {

// The edit (Damerau-Levenshtein, adjacent swaps count as one) distance
// between `a` and `b`.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` if it is close enough to be a typo of it
// (at most a third of its letters off, at least one); "" otherwise.
std::string NearestWord(std::string_view word, std::span<const std::string_view> candidates);

// "; did you mean X?" or "" when nothing is near: ready to append to a message.
std::string DidYouMean(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_SPELLING_H_
