//! Polygons from OSM ways, on plain in-memory data: stitching the pieces of a ring (mappers
//! split long boundaries into several ways, drawn in either direction) and putting each hole
//! in the outer ring that contains it.
use std::collections::HashMap;

use geo::{Area, Contains, Coord, LineString, Orient, Polygon, orient::Direction};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RingError {
    #[error("the outline is not closed: it stops at node {node}")]
    Open { node: i64 },
    #[error("a ring has fewer than three distinct points")]
    Degenerate,
    #[error("the area has no outer ring")]
    NoOuter,
    #[error("a hole lies outside every outer ring")]
    StrayInner,
}

/// Joins ways (lists of node ids) into closed rings. A closed way is a ring by itself; open
/// ways are chained end to end, each taken forwards or backwards as it fits.
pub fn stitch_rings(ways: &[&[i64]]) -> Result<Vec<Vec<i64>>, RingError> {
    let mut ends: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, way) in ways.iter().enumerate() {
        if let (Some(&first), Some(&last)) = (way.first(), way.last())
            && way.len() >= 2
            && first != last
        {
            for end in [first, last] {
                ends.entry(end).or_default().push(i);
            }
        }
    }
    let mut used = vec![false; ways.len()];
    let mut rings = Vec::new();
    for (start, way) in ways.iter().enumerate() {
        if !claim(&mut used, start) {
            continue;
        }
        let mut ring = way.to_vec();
        while let (Some(&first), Some(&end)) = (ring.first(), ring.last()) {
            if ring.len() > 1 && first == end {
                break;
            }
            let next = ends.get(&end).and_then(|candidates| candidates.iter().copied().find(|&j| claim(&mut used, j)));
            let Some(piece) = next.and_then(|j| ways.get(j)) else { return Err(RingError::Open { node: end }) };
            if let Some(rest) = piece.strip_prefix(&[end]) {
                ring.extend_from_slice(rest);
            } else if let Some((_, init)) = piece.split_last() {
                ring.extend(init.iter().rev());
            }
        }
        if ring.len() < 4 {
            return Err(RingError::Degenerate);
        }
        rings.push(ring);
    }
    Ok(rings)
}

/// Marks way `index` used; false if it already was.
fn claim(used: &mut [bool], index: usize) -> bool {
    used.get_mut(index).is_some_and(|used| !std::mem::replace(used, true))
}

/// Makes polygons of outer rings, each inner ring becoming a hole of the smallest outer ring
/// that contains it. Rings come out in the GeoJSON orientation (outer counter-clockwise).
pub fn assemble_polygons(
    outers: Vec<LineString<f64>>,
    inners: Vec<LineString<f64>>,
) -> Result<Vec<Polygon<f64>>, RingError> {
    if outers.is_empty() {
        return Err(RingError::NoOuter);
    }
    let shells: Vec<Polygon<f64>> = outers.into_iter().map(|ring| Polygon::new(ring, vec![])).collect();
    let mut holes: Vec<Vec<LineString<f64>>> = vec![Vec::new(); shells.len()];
    for inner in inners {
        let hole = Polygon::new(inner, vec![]);
        let host = shells
            .iter()
            .enumerate()
            .filter(|(_, shell)| shell.contains(&hole))
            .min_by(|(_, a), (_, b)| a.unsigned_area().total_cmp(&b.unsigned_area()))
            .map(|(i, _)| i)
            .ok_or(RingError::StrayInner)?;
        let (exterior, _) = hole.into_inner();
        holes.get_mut(host).ok_or(RingError::StrayInner)?.push(exterior);
    }
    Ok(shells
        .into_iter()
        .zip(holes)
        .map(|(shell, holes)| Polygon::new(shell.into_inner().0, holes).orient(Direction::Default))
        .collect())
}

/// The ring of node ids as coordinates, or `None` when a node is unknown.
pub fn ring_coords(ring: &[i64], coord: impl Fn(i64) -> Option<Coord<f64>>) -> Option<LineString<f64>> {
    ring.iter().map(|&id| coord(id)).collect::<Option<Vec<_>>>().map(LineString::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    /// A 10 × 10 square with corners 1 (0,0), 2 (10,0), 3 (10,10), 4 (0,10); 5..8 a 2 × 2 hole.
    fn coord(id: i64) -> Option<Coord<f64>> {
        Some(match id {
            1 => Coord { x: 0.0, y: 0.0 },
            2 => Coord { x: 10.0, y: 0.0 },
            3 => Coord { x: 10.0, y: 10.0 },
            4 => Coord { x: 0.0, y: 10.0 },
            5 => Coord { x: 4.0, y: 4.0 },
            6 => Coord { x: 6.0, y: 4.0 },
            7 => Coord { x: 6.0, y: 6.0 },
            8 => Coord { x: 4.0, y: 6.0 },
            _ => return None,
        })
    }

    #[test]
    fn split_and_reversed_ways_make_one_ring() {
        // 1→2, then 3→2 drawn backwards, then 3→4→1.
        let ways: [&[i64]; 3] = [&[1, 2], &[3, 2], &[3, 4, 1]];
        assert_eq!(stitch_rings(&ways), Ok(vec![vec![1, 2, 3, 4, 1]]));
        // Four sides in shuffled order, two of them drawn backwards.
        let ways: [&[i64]; 4] = [&[4, 3], &[2, 1], &[1, 4], &[2, 3]];
        assert_eq!(stitch_rings(&ways), Ok(vec![vec![4, 3, 2, 1, 4]]));
    }

    #[test]
    fn closed_ways_stay_rings_and_open_ones_are_reported() {
        let ways: [&[i64]; 2] = [&[5, 6, 7, 8, 5], &[1, 2, 3]];
        assert_eq!(stitch_rings(&ways), Err(RingError::Open { node: 3 }));
        let ways: [&[i64]; 1] = [&[1, 2, 1]];
        assert_eq!(stitch_rings(&ways), Err(RingError::Degenerate));
    }

    #[test]
    fn holes_go_into_the_outer_ring_that_holds_them() {
        let ring = |ids: &[i64]| ring_coords(ids, coord).unwrap_or_else(|| unreachable!("all nodes are known"));
        let (outer, inner) = (ring(&[1, 2, 3, 4, 1]), ring(&[5, 6, 7, 8, 5]));
        let polygons =
            assemble_polygons(vec![outer.clone()], vec![inner.clone()]).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(polygons.len(), 1);
        assert_eq!(polygons[0].interiors().len(), 1);
        assert!((polygons[0].unsigned_area() - 96.0).abs() < 1e-9);
        assert!(polygons[0].signed_area() > 0.0, "outer ring counter-clockwise");
        // A hole with no outer ring around it is refused.
        assert_eq!(assemble_polygons(vec![inner.clone()], vec![outer]), Err(RingError::StrayInner));
        assert_eq!(assemble_polygons(vec![], vec![inner]), Err(RingError::NoOuter));
        assert_eq!(ring_coords(&[1, 99, 1], coord), None);
    }

    /// The ring 1, 2, …, n, 1 cut at the vertices marked in `cuts`.
    fn pieces(n: i64, cuts: &[bool]) -> Vec<Vec<i64>> {
        let ring: Vec<i64> = (1..=n).chain([1]).collect();
        let mut pieces = vec![vec![ring[0]]];
        for (i, &id) in ring.iter().enumerate().skip(1) {
            if let Some(last) = pieces.last_mut() {
                last.push(id);
            }
            if i < ring.len() - 1 && cuts.get(i).copied().unwrap_or(false) {
                pieces.push(vec![id]);
            }
        }
        pieces
    }

    proptest::proptest! {
        /// However a ring is cut, reversed and shuffled, stitching gives it back (up to its
        /// starting point and direction).
        #[test]
        fn stitching_undoes_any_cutting(
            n in 3i64..40,
            cuts in proptest::collection::vec(proptest::bool::ANY, 40),
            flips in proptest::collection::vec(proptest::bool::ANY, 40),
            order in proptest::strategy::Just((0..40usize).collect::<Vec<_>>()).prop_shuffle(),
        ) {
            let mut parts = pieces(n, &cuts);
            for (part, &flip) in parts.iter_mut().zip(&flips) {
                if flip {
                    part.reverse();
                }
            }
            let shuffled: Vec<&[i64]> = order.iter().filter_map(|&i| parts.get(i)).map(Vec::as_slice).collect();
            let rings = stitch_rings(&shuffled);
            let rings = rings.as_deref().unwrap_or_default();
            proptest::prop_assert_eq!(rings.len(), 1);
            let ring = &rings[0];
            proptest::prop_assert_eq!(ring.first(), ring.last());
            proptest::prop_assert_eq!(ring.len() as i64, n + 1);
            // Consecutive ids differ by one around the circle, in one direction throughout.
            let steps: Vec<i64> = ring.windows(2).map(|w| (w[1] - w[0]).rem_euclid(n)).collect();
            proptest::prop_assert!(steps.iter().all(|&s| s == 1) || steps.iter().all(|&s| s == n - 1), "{:?}", ring);
        }
    }
}
