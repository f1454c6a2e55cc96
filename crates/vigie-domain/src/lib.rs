//! Vigie's pure core: the vocabulary and the rules. No I/O, no clock (time is a parameter),
//! no panics: every fallible operation returns a [`DomainError`].

#![deny(clippy::indexing_slicing)] // pure code: a bad index is an error to return, not a panic

pub mod access;
pub mod assessment;
pub mod audit;
pub mod bulletin;
pub mod code;
pub mod error;
pub mod geometry;
pub mod hvm;
pub mod id;
pub mod library;
pub mod notification;
pub mod photo;
pub mod report;
pub mod sharing;
pub mod site;
pub mod threat_level;

pub use code::{Code, Failure};
pub use error::DomainError;
pub use id::{
    ActionId, AssessmentId, BulletinId, CommunityId, DocumentId, OrgId, PassageId, PhotoId, ReportId, SiteId, StudyId,
    ThreatLevelId, TokenId, UserId,
};
