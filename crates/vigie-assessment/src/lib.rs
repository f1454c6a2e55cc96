//! Vigie's on-site vulnerability assessment: the methodology (scenarios, domains, questions,
//! graded answers, options for consideration) as bilingual data embedded in the binary, and a
//! pure, explainable scoring engine: vulnerability, likelihood, consequence and risk per threat
//! scenario, protective measures index, proposed actions, what-if and peer comparison.
//! Formulas and sources: docs/methodology.md. No I/O, no clock, no panics.
#![deny(clippy::indexing_slicing)] // pure code: a bad index is an error to return, not a panic

pub mod error;
pub mod input;
pub mod model;
pub mod score;

pub use error::AssessmentError;
pub use input::{AssessmentInput, NOT_APPLICABLE, SiteContext};
pub use model::{CostBand, Methodology, MethodologyView, OpennessImpact};
pub use score::{
    ScenarioNumbers, ScoreNumbers, ScoreReport, WhatIf, apportion, percentile, score, score_numbers, what_if,
};
