//! Vehicle classes and the physics of the model: acceleration a(v) = a0·(1 − v/vmax)
//! (Long 2000), the cornering limit v = sqrt(f·g·r) and kinetic energy. Speeds in m/s inside.
use serde::{Deserialize, Serialize};

use crate::HvmError;

/// The vehicle classes shipped in `methodology/vehicles.toml`.
pub const DEFAULT_VEHICLES_TOML: &str = include_str!("../../../methodology/vehicles.toml");

pub const KMH_PER_MS: f64 = 3.6;

/// A threat vehicle class and its dynamics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VehicleClass {
    pub key: String,
    pub name_en: String,
    pub name_fr: String,
    pub mass_kg: f64,
    /// Acceleration at standstill, m/s².
    pub a0_ms2: f64,
    /// Top speed, km/h: the acceleration falls linearly to zero there.
    pub vmax_kmh: f64,
}

impl VehicleClass {
    pub fn vmax_ms(&self) -> f64 {
        self.vmax_kmh / KMH_PER_MS
    }

    /// Distance (m) to accelerate from rest to `v` (m/s): S(v) = (vmax/a0)(−v − vmax·ln(1 − v/vmax)).
    /// Infinite at or above vmax, which the model approaches but never reaches.
    pub fn distance_from_rest(&self, v: f64) -> f64 {
        let vmax = self.vmax_ms();
        if v <= 0.0 {
            return 0.0;
        }
        if v >= vmax {
            return f64::INFINITY;
        }
        (vmax / self.a0_ms2) * (-v - vmax * (-v / vmax).ln_1p())
    }

    /// Speed (m/s) after accelerating from `u` (m/s) over `s` metres: the inverse of
    /// s = S(v) − S(u), solved by Newton's method on the dimensionless form
    /// g(w) = −w − ln(1 − w) = k, w = v/vmax, k = S·a0/vmax².
    pub fn speed_after(&self, u: f64, s: f64) -> f64 {
        let vmax = self.vmax_ms();
        let u = u.clamp(0.0, vmax);
        if s <= 0.0 {
            return u;
        }
        let k = (self.distance_from_rest(u) + s) * self.a0_ms2 / (vmax * vmax);
        if !k.is_finite() {
            return u;
        }
        vmax * solve_g(k)
    }
}

/// Intervals of the table that gives the solver its starting point.
const G_TABLE_LEN: usize = 1024;
/// The table covers x = sqrt(k) in [0, G_TABLE_X_MAX]: w > 1 − 1e-7 beyond, within 1e-7 of vmax.
const G_TABLE_X_MAX: f64 = 4.0;

/// w at x = sqrt(k) on a uniform grid of x: w(x) is smooth in x (w ≈ √2·x near rest, where
/// w(k) has an infinite slope), so linear interpolation starts the solver within about 1e-5
/// of the root over the speeds that matter, and the grid is indexed without a search.
fn g_table() -> &'static [f64] {
    static TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0..=G_TABLE_LEN)
            .map(|i| {
                let x = i as f64 * G_TABLE_X_MAX / G_TABLE_LEN as f64;
                let k = x * x;
                // Newton from above the root (−ln(1 − w) ≤ k + 1 bounds it) to full precision,
                // once per grid point.
                let mut w = (2.0 * k).sqrt().min(-(-(k + 1.0)).exp_m1());
                for _ in 0..200 {
                    let step = (-w - (-w).ln_1p() - k) * (1.0 - w) / w;
                    if !step.is_finite() || step.abs() <= 1e-16 * w {
                        break;
                    }
                    w -= step;
                }
                w
            })
            .collect()
    })
}

/// Solves g(w) = −w − ln(1 − w) = k for w in [0, 1) by Halley's method (cubic convergence)
/// from the table's start: one logarithm per solve for nearly all k, where Newton's method
/// needed two or three; this solve is the inner loop of the whole-graph pass. Halley stops
/// once a step is below 1e-4 of w and of 1 − w: the error left is then of order 1e-12 of them.
/// Past the table, w = 1 − e^(−k − w) is a contraction by e^(−k) < 1e-7: two rounds suffice.
fn solve_g(k: f64) -> f64 {
    if k <= 0.0 {
        return 0.0;
    }
    let table = g_table();
    let at = k.sqrt() * (G_TABLE_LEN as f64 / G_TABLE_X_MAX);
    let i = at as usize;
    let (Some(&w0), Some(&w1)) = (table.get(i), table.get(i + 1)) else {
        let w = -(-(k + 1.0)).exp_m1();
        return -(-(k + w)).exp_m1();
    };
    let mut w = w0 + (w1 - w0) * (at - i as f64);
    for _ in 0..8 {
        let rest = 1.0 - w;
        let g = -w - (-w).ln_1p() - k;
        let (d1, d2) = (w / rest, 1.0 / (rest * rest));
        let step = 2.0 * g * d1 / (2.0 * d1 * d1 - g * d2);
        if !step.is_finite() {
            break;
        }
        w = (w - step).clamp(0.0, 1.0);
        if step.abs() <= 1e-4 * w.min(1.0 - w) {
            break;
        }
    }
    w
}

/// Kinetic energy in kJ of `mass_kg` at `v` m/s.
pub fn energy_kj(mass_kg: f64, v: f64) -> f64 {
    0.5 * mass_kg * v * v / 1000.0
}

#[derive(Debug, Deserialize)]
struct VehiclesFile {
    version: String,
    class: Vec<VehicleClass>,
}

/// A versioned list of vehicle classes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VehicleSet {
    pub version: String,
    pub classes: Vec<VehicleClass>,
}

impl VehicleSet {
    /// The classes of `methodology/vehicles.toml` as shipped.
    pub fn default_set() -> Result<Self, HvmError> {
        Self::from_toml(DEFAULT_VEHICLES_TOML)
    }

    pub fn from_toml(text: &str) -> Result<Self, HvmError> {
        let file: VehiclesFile =
            toml::from_str(text).map_err(|e| HvmError::VehiclesInvalid { reason: e.to_string() })?;
        for (i, c) in file.class.iter().enumerate() {
            let bad = |what: &str| HvmError::VehiclesInvalid { reason: format!("class {} ({}): {what}", i + 1, c.key) };
            if c.key.trim().is_empty() {
                return Err(bad("empty key"));
            }
            if !(c.mass_kg > 0.0
                && c.a0_ms2 > 0.0
                && c.vmax_kmh > 0.0
                && (c.mass_kg + c.a0_ms2 + c.vmax_kmh).is_finite())
            {
                return Err(bad("mass_kg, a0_ms2 and vmax_kmh must be positive numbers"));
            }
            if file.class.iter().take(i).any(|o| o.key == c.key) {
                return Err(bad("key used twice"));
            }
        }
        if file.class.is_empty() {
            return Err(HvmError::VehiclesInvalid { reason: "no [[class]] defined".into() });
        }
        Ok(VehicleSet { version: file.version, classes: file.class })
    }

    pub fn get(&self, key: &str) -> Result<&VehicleClass, HvmError> {
        self.classes.iter().find(|c| c.key.eq_ignore_ascii_case(key.trim())).ok_or_else(|| HvmError::VehicleUnknown {
            key: key.trim().to_owned(),
            known: self.classes.iter().map(|c| c.key.as_str()).collect::<Vec<_>>().join(", "),
        })
    }

    /// The classes named in a comma-separated list such as `M1,N1,N3C`, in that order.
    pub fn select(&self, list: &str) -> Result<Vec<VehicleClass>, HvmError> {
        list.split(',').filter(|k| !k.trim().is_empty()).map(|k| self.get(k).cloned()).collect()
    }
}

/// Parameters of the dynamics; every one is echoed in the result (`model`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DynamicsParams {
    /// Side friction factor f in v = sqrt(f·g·r): 0.6 on normal roads, 1.0 as the
    /// conservative bound (MIL-HDBK-1013/14).
    pub friction: f64,
    /// m/s².
    pub gravity_ms2: f64,
    /// Label-correcting stops when no label improves by more than this (m/s).
    pub improvement_threshold_ms: f64,
    /// Around each site the speeds are recomputed without passing through the site itself,
    /// within this distance (m) of the site's bounding box.
    pub local_radius_m: f64,
}

impl Default for DynamicsParams {
    fn default() -> Self {
        DynamicsParams { friction: 0.6, gravity_ms2: 9.81, improvement_threshold_ms: 0.01, local_radius_m: 300.0 }
    }
}

impl DynamicsParams {
    pub fn check(&self) -> Result<(), HvmError> {
        let positive = |name: &str, v: f64| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(HvmError::parameter(name, format!("must be a positive number, got {v}")))
            }
        };
        positive("friction", self.friction)?;
        positive("gravity_ms2", self.gravity_ms2)?;
        positive("improvement_threshold_ms", self.improvement_threshold_ms)?;
        if !(self.local_radius_m >= 0.0 && self.local_radius_m.is_finite()) {
            return Err(HvmError::parameter("local_radius_m", "must be zero or a positive number"));
        }
        Ok(())
    }

    /// Highest speed (m/s) through a bend of radius `r` metres.
    pub fn corner_speed(&self, r: f64) -> f64 {
        (self.friction * self.gravity_ms2 * r.max(0.0)).sqrt()
    }
}

/// Radius (m) of the bend at a node where the path deflects by `theta` radians between segments
/// of lengths `l1` and `l2`: r = (min(l1, l2)/2) / tan(θ/2). Infinite for a straight line,
/// zero for a U-turn.
pub fn corner_radius(l1: f64, l2: f64, theta: f64) -> f64 {
    let theta = theta.abs();
    if theta < 1e-9 {
        return f64::INFINITY;
    }
    if theta >= std::f64::consts::PI - 1e-6 {
        return 0.0;
    }
    (l1.min(l2) / 2.0) / (theta / 2.0).tan()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(a0: f64, vmax_kmh: f64) -> VehicleClass {
        VehicleClass {
            key: "T".into(),
            name_en: "t".into(),
            name_fr: "t".into(),
            mass_kg: 1000.0,
            a0_ms2: a0,
            vmax_kmh,
        }
    }

    #[test]
    fn reference_check_100_m_from_rest() {
        // shared/reference/hvm.md: a0 = 1.2, vmax = 90 km/h, 100 m from rest → 44.9 km/h.
        let v = class(1.2, 90.0).speed_after(0.0, 100.0) * KMH_PER_MS;
        assert!((v - 44.9).abs() < 0.05, "{v}");
    }

    #[test]
    fn inverse_of_distance() {
        let c = class(1.8, 100.0);
        for s in [0.01, 1.0, 10.0, 100.0, 1000.0, 10_000.0] {
            let v = c.speed_after(0.0, s);
            assert!((c.distance_from_rest(v) - s).abs() < 1e-6 * s.max(1.0), "{s}");
        }
        let split = c.speed_after(c.speed_after(0.0, 40.0), 60.0);
        assert!((split - c.speed_after(0.0, 100.0)).abs() < 1e-9);
    }

    #[test]
    fn the_solver_matches_bisection_from_rest_to_top_speed() {
        let g = |w: f64| -w - (-w).ln_1p();
        for i in 0..=400 {
            let k = 10f64.powf(-10.0 + i as f64 * 11.5 / 400.0);
            let (mut lo, mut hi) = (0.0f64, 1.0f64);
            for _ in 0..200 {
                let mid = (lo + hi) / 2.0;
                if g(mid) < k { lo = mid } else { hi = mid }
            }
            let (w, exact) = (solve_g(k), (lo + hi) / 2.0);
            // Relative to the smaller of w and 1 − w, down to what f64 resolves near top speed.
            let scale = exact.min(1.0 - exact).max(1e-9);
            assert!((w - exact).abs() <= 1e-9 * scale + 4.0 * f64::EPSILON, "k = {k}: {w} vs {exact}");
        }
    }

    #[test]
    fn cornering_reference() {
        let p = DynamicsParams::default();
        assert!((p.corner_speed(10.0) * KMH_PER_MS - 27.6).abs() < 0.05);
        assert!((p.corner_speed(25.0) * KMH_PER_MS - 43.7).abs() < 0.05);
        assert_eq!(corner_radius(10.0, 10.0, 0.0), f64::INFINITY);
        assert_eq!(corner_radius(10.0, 10.0, std::f64::consts::PI), 0.0);
        // 90° between two 20 m segments: r = 10 / tan 45° = 10 m.
        assert!((corner_radius(20.0, 30.0, std::f64::consts::FRAC_PI_2) - 10.0).abs() < 1e-9);
    }

    #[test]
    fn energy_reference() {
        let kmh = |v: f64| v / KMH_PER_MS;
        assert!((energy_kj(7200.0, kmh(48.0)) - 640.0).abs() < 0.05);
        assert!((energy_kj(7200.0, kmh(64.0)) - 1137.8).abs() < 0.05);
        assert!((energy_kj(7200.0, kmh(80.0)) - 1777.8).abs() < 0.05);
        assert!((energy_kj(1500.0, kmh(48.0)) - 133.3).abs() < 0.05);
        assert!((energy_kj(6800.0, 30.0 * 1.609344 / KMH_PER_MS) - 611.5).abs() < 0.1);
    }

    #[test]
    fn shipped_vehicles_parse() {
        let set = VehicleSet::default_set().unwrap();
        assert_eq!(set.classes.len(), 8);
        assert_eq!(set.get("n3c").unwrap().mass_kg, 7200.0);
        assert!(set.select("M1,XX").is_err());
    }
}
