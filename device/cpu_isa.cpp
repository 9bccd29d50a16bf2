#include "device/cpu_isa.hpp"

#include <cstdlib>
#include <string>

#include "device/backend.hpp"

namespace kvactor {

bool cpu_supports(cpu_isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  switch (isa) {
    case cpu_isa::portable: return true;
    case cpu_isa::avx2: return avx2;
    case cpu_isa::avx512: return avx2 && __builtin_cpu_supports("avx512f");
  }
  return false;
#else
  return isa == cpu_isa::portable;
#endif
}

const char* cpu_isa_name(cpu_isa isa) {
  switch (isa) {
    case cpu_isa::portable: return "portable";
    case cpu_isa::avx2: return "avx2";
    case cpu_isa::avx512: return "avx512";
  }
  return "unknown";
}

namespace {

cpu_isa choose_isa() {
  const char* forced = std::getenv("KVACTOR_CPU_ISA");
  if (!forced || !*forced) {
    if (cpu_supports(cpu_isa::avx512)) return cpu_isa::avx512;
    return cpu_supports(cpu_isa::avx2) ? cpu_isa::avx2 : cpu_isa::portable;
  }
  for (cpu_isa isa : {cpu_isa::portable, cpu_isa::avx2, cpu_isa::avx512})
    if (std::string(forced) == cpu_isa_name(isa)) {
      if (!cpu_supports(isa))
        throw backend_error(std::string("KVACTOR_CPU_ISA=") + forced + ": this CPU does not support it");
      return isa;
    }
  throw backend_error(std::string("KVACTOR_CPU_ISA=") + forced + ": unknown (use portable, avx2 or avx512)");
}

}  // namespace

cpu_isa cpu_isa_in_use() {
  static const cpu_isa chosen = choose_isa();  // a throw leaves it unset: the next call throws again
  return chosen;
}

}  // namespace kvactor
