// Small string helpers of the hub layer. Private.
#pragma once

#include <string>
#include <string_view>

#include "optimum/core/paths.h"

namespace optimum::hub::detail {

// `text` in single quotes, as messages quote names; names often come from a
// server, so control bytes and the like are escaped (optimum::quote_untrusted).
inline std::string in_quotes(std::string_view text) { return quote_untrusted(text); }

}  // namespace optimum::hub::detail
