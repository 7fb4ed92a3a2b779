//! Which SIMD instruction set this CPU offers, as ONNX Runtime's int8 kernels see it.
//!
//! Without VNNI, ONNX Runtime sums u8×s8 products in pairs into saturating 16-bit lanes; the
//! default router's int8 weights are made saturation-free for that reason (see
//! `encoder_export.make_weights_saturation_free`). Benchmarks and `router.json` record the class
//! so a figure or a model can be traced to the CPU it came from.

/// The instruction-set features that select ONNX Runtime's CPU kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuFeatures {
    /// 256-bit integer SIMD (every x86-64 CPU since about 2013).
    pub avx2: bool,
    /// Fused multiply-add (fp32 GEMM kernels).
    pub fma: bool,
    /// AVX-512 foundation + byte/word instructions (MLAS's "AVX-512 core" kernels).
    pub avx512: bool,
    /// AVX-512 VNNI: u8×s8 dot products accumulated in 32 bits (no saturation).
    pub avx512_vnni: bool,
    /// AVX-VNNI: the 256-bit VEX form of VNNI (Alder Lake and later, Zen 5).
    pub avx_vnni: bool,
    /// AMX int8 tiles (Sapphire Rapids and later).
    pub amx_int8: bool,
}

impl CpuFeatures {
    /// The features of the CPU this process runs on (all false on non-x86-64 targets).
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            Self {
                avx2: std::arch::is_x86_feature_detected!("avx2"),
                fma: std::arch::is_x86_feature_detected!("fma"),
                avx512: std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw"),
                avx512_vnni: std::arch::is_x86_feature_detected!("avx512vnni"),
                avx_vnni: std::arch::is_x86_feature_detected!("avxvnni"),
                amx_int8: amx_int8(),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Self::default()
        }
    }

    /// The class that decides int8 behaviour and speed: `AMX`, `AVX-512 VNNI`, `AVX-VNNI`,
    /// `AVX-512` (no VNNI), `AVX2` or `pre-AVX2`.
    pub fn isa_class(&self) -> &'static str {
        if self.amx_int8 {
            "AMX"
        } else if self.avx512_vnni {
            "AVX-512 VNNI"
        } else if self.avx_vnni {
            "AVX-VNNI"
        } else if self.avx512 {
            "AVX-512"
        } else if self.avx2 {
            "AVX2"
        } else {
            "pre-AVX2"
        }
    }

    /// True where u8×s8 products accumulate without 16-bit saturation (VNNI or AMX).
    pub fn has_vnni(&self) -> bool {
        self.avx512_vnni || self.avx_vnni || self.amx_int8
    }

    /// `(name, present)` pairs, in a fixed order, for reports.
    pub fn flags(&self) -> [(&'static str, bool); 6] {
        [
            ("avx2", self.avx2),
            ("fma", self.fma),
            ("avx512", self.avx512),
            ("avx512_vnni", self.avx512_vnni),
            ("avx_vnni", self.avx_vnni),
            ("amx_int8", self.amx_int8),
        ]
    }
}

/// AMX-INT8 (CPUID leaf 7, EDX bit 25); `is_x86_feature_detected!("amx-int8")` is not stable yet.
#[cfg(target_arch = "x86_64")]
fn amx_int8() -> bool {
    // Leaf 7 exists on every CPU that has AVX2; check the maximum leaf anyway.
    #[allow(unused_unsafe)]
    let max_leaf = unsafe { std::arch::x86_64::__cpuid(0) }.eax;
    if max_leaf < 7 {
        return false;
    }
    #[allow(unused_unsafe)]
    let leaf7 = unsafe { std::arch::x86_64::__cpuid_count(7, 0) };
    leaf7.edx & (1 << 25) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_follows_the_strongest_feature() {
        let avx2 = CpuFeatures { avx2: true, fma: true, ..Default::default() };
        assert_eq!(avx2.isa_class(), "AVX2");
        assert!(!avx2.has_vnni());
        let skx = CpuFeatures { avx512: true, ..avx2 };
        assert_eq!(skx.isa_class(), "AVX-512");
        let vnni = CpuFeatures { avx512_vnni: true, ..skx };
        assert_eq!(vnni.isa_class(), "AVX-512 VNNI");
        assert!(vnni.has_vnni());
        let spr = CpuFeatures { amx_int8: true, ..vnni };
        assert_eq!(spr.isa_class(), "AMX");
        assert_eq!(CpuFeatures::default().isa_class(), "pre-AVX2");
    }

    #[test]
    fn detection_is_stable() {
        assert_eq!(CpuFeatures::detect(), CpuFeatures::detect());
    }
}
