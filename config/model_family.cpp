#include "config/model_family.h"

namespace mart {

const ModelFamilyTraits* find_family(const std::string& name) {
  for (const ModelFamilyTraits& t : kModelFamilyTraits)
    if (name == t.name) return &t;
  return nullptr;
}

const ModelFamilyTraits* find_hf_family(const std::string& model_type) {
  for (const ModelFamilyTraits& t : kModelFamilyTraits)
    if (model_type == t.hf_model_type) return &t;
  return nullptr;
}

std::string family_choices() {
  std::string s;
  for (size_t i = 0; i < kModelFamilyCount; ++i)
    s += std::string(i == 0                       ? ""
                     : i + 1 == kModelFamilyCount ? " or "
                                                  : ", ") +
         kModelFamilyTraits[i].name;
  return s;
}

}  // namespace mart
