// Which SIMD instruction set the CPU backend's kernels use. Chosen once per process:
// the best this CPU has, or the one KVACTOR_CPU_ISA names (portable | avx2 |
// avx512), so tests can run every path a machine supports and benchmarks can
// compare them. Different ISAs may give different bits (different lane layouts);
// one process never mixes them, so results stay batch-invariant.
#pragma once

namespace kvactor {

enum class cpu_isa { portable, avx2, avx512 };

// True when this CPU can run `isa` (avx2 = AVX2 + FMA + F16C; avx512 = AVX-512F on
// top of that).
bool cpu_supports(cpu_isa isa);

// The process-wide choice. Throws backend_error when KVACTOR_CPU_ISA names an
// unknown instruction set or one this CPU lacks (the backend's constructor calls
// it first, so the error surfaces when the backend is made).
cpu_isa cpu_isa_in_use();

const char* cpu_isa_name(cpu_isa isa);

}  // namespace kvactor
