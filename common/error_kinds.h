// Kinds of mart::Error a caller may branch on, by the stage that failed rather than the message:
//   CapacityError  the job does not fit the memory it may use (device capacity, no plan fits);
//   NumericError   training produced a non-finite gradient norm (diverged).
// The C API reports them as MART_ERR_OUT_OF_MEMORY and MART_ERR_NUMERIC; any other mart::Error of
// the same call gets the call's own category (a config error, a file error).
#pragma once
#include <string>

#include "common/error.h"

namespace mart {

class CapacityError : public Error {
 public:
  using Error::Error;
};

class NumericError : public Error {
 public:
  using Error::Error;
};

// As throw_error (the message gets " [file:line]"), throwing the kind named.
[[noreturn]] void throw_capacity_error(const char* file, int line, const std::string& msg);
[[noreturn]] void throw_numeric_error(const char* file, int line, const std::string& msg);

}  // namespace mart

// As MART_FAIL, throwing mart::CapacityError / mart::NumericError.
#define MART_FAIL_CAPACITY(...) \
  ::mart::throw_capacity_error(__FILE__, __LINE__, ::mart::str(__VA_ARGS__))
#define MART_FAIL_NUMERIC(...) \
  ::mart::throw_numeric_error(__FILE__, __LINE__, ::mart::str(__VA_ARGS__))
