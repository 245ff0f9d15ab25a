#include "common/dtype.h"

#include "common/error.h"

namespace mart {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "F32";
    case DType::BF16:
      return "BF16";
    case DType::F16:
      return "F16";
    case DType::I32:
      return "I32";
    case DType::U16:
      return "U16";
    case DType::U32:
      return "U32";
    case DType::F64:
      return "F64";
    case DType::U8:
      return "U8";
    case DType::BOOL:
      return "BOOL";
  }
  return "?";
}

DType dtype_from_name(std::string_view n) {
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::I32, DType::U16, DType::U32,
                  DType::F64, DType::U8, DType::BOOL})
    if (dtype_name(t) == n) return t;
  MART_FAIL("unknown dtype '", n,
            "' (expected one of F32, BF16, F16, I32, U16, U32, F64, U8, BOOL)");
}

}  // namespace mart
