//! The assessment part of the [`crate::Store`].
//! The SQL is shared by both backends like `sql.rs`: the macro is expanded in `sqlite.rs` and
//! `postgres.rs` after `impl_store!`, whose helpers (`audit`, `Row`, …) it uses.

#[async_trait::async_trait]
pub trait AssessmentStore: Send + Sync {}

macro_rules! impl_assessment_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::AssessmentStore for $store {}
    };
}

pub(crate) use impl_assessment_store;
