//! The OpenAPI 3.1 description of the API, written by hand next to the routes; a test checks
//! that it names every route in [`crate::api::all_routes`] and nothing else.
pub const DOCUMENT: &str = include_str!("../openapi.json");

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    #[test]
    fn the_document_describes_every_route_and_only_those() {
        let doc: serde_json::Value = serde_json::from_str(super::DOCUMENT).unwrap_or_default();
        let mut described = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in item.as_object().into_iter().flatten().map(|(m, _)| m.as_str()) {
                described.insert((method.to_owned(), path.clone()));
            }
        }
        let routed: BTreeSet<(String, String)> =
            crate::api::all_routes().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
        assert_eq!(described, routed);
    }
}
