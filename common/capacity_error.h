// CapacityError: the job does not fit the memory it may use (device capacity, no plan fits). A
// distinct type so that a caller branches on the stage that failed, not on the message: the C API
// reports it as MART_ERR_OUT_OF_MEMORY and every other mart::Error of the same call by the call's
// own category (a config error, a file error).
#pragma once
#include <string>

#include "common/error.h"

namespace mart {

class CapacityError : public Error {
 public:
  using Error::Error;
};

// As throw_error (the message gets " [file:line]"), throwing CapacityError.
[[noreturn]] void throw_capacity_error(const char* file, int line, const std::string& msg);

}  // namespace mart

// As MART_FAIL, throwing mart::CapacityError.
#define MART_FAIL_CAPACITY(...) \
  ::mart::throw_capacity_error(__FILE__, __LINE__, ::mart::str(__VA_ARGS__))
