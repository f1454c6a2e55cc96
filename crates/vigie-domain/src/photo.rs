//! Photos taken on site: the type is read from the bytes (never from what the client claims),
//! and the location a phone writes into the file is removed unless the user keeps it, because
//! a photo of a site's weak point must not tell strangers where the photographer stood.
//!
//! JPEG: the GPS directory of the EXIF block is wiped in place (entries and values zeroed, so
//! orientation and the rest survive); an EXIF block we cannot parse is dropped whole, and XMP
//! blocks (which may repeat the position) are dropped. PNG: `eXIf` chunks and XMP text chunks
//! are dropped.
use crate::error::DomainError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanPhoto {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
    /// Whether location data was found and removed.
    pub location_removed: bool,
}

const JPEG_SOI: &[u8] = &[0xFF, 0xD8, 0xFF];
const PNG_SIGNATURE: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
const EXIF_HEADER: &[u8] = b"Exif\0\0";
const XMP_HEADERS: [&[u8]; 2] = [b"http://ns.adobe.com/xap/1.0/\0", b"http://ns.adobe.com/xmp/extension/\0"];
const GPS_IFD_TAG: u16 = 0x8825;

/// Checks that `bytes` is a JPEG or PNG image and, unless `keep_location`, removes its location.
pub fn clean(bytes: &[u8], keep_location: bool) -> Result<CleanPhoto, DomainError> {
    if bytes.starts_with(JPEG_SOI) {
        let (cleaned, removed) = clean_jpeg(bytes, keep_location)?;
        Ok(CleanPhoto { content_type: "image/jpeg", bytes: cleaned, location_removed: removed })
    } else if bytes.starts_with(PNG_SIGNATURE) {
        let (cleaned, removed) = clean_png(bytes, keep_location)?;
        Ok(CleanPhoto { content_type: "image/png", bytes: cleaned, location_removed: removed })
    } else {
        Err(DomainError::PhotoUnsupported {
            message: "only JPEG and PNG photos are accepted; this file is neither".into(),
        })
    }
}

fn malformed(message: &str) -> DomainError {
    DomainError::PhotoMalformed { message: message.to_owned() }
}

fn clean_jpeg(bytes: &[u8], keep_location: bool) -> Result<(Vec<u8>, bool), DomainError> {
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(bytes.get(..2).ok_or_else(|| malformed("the JPEG is cut short"))?);
    let mut removed = false;
    let mut at = 2;
    loop {
        let marker = match bytes.get(at..at + 2) {
            Some([0xFF, m]) => *m,
            _ => return Err(malformed("the JPEG structure is broken or cut short")),
        };
        // Standalone markers carry no length.
        if marker == 0xD8 || marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            out.extend_from_slice(&[0xFF, marker]);
            at += 2;
            continue;
        }
        if marker == 0xD9 {
            out.extend_from_slice(bytes.get(at..).unwrap_or_default());
            return Ok((out, removed));
        }
        let length = bytes
            .get(at + 2..at + 4)
            .and_then(|l| <[u8; 2]>::try_from(l).ok())
            .map(|l| usize::from(u16::from_be_bytes(l)))
            .ok_or_else(|| malformed("the JPEG is cut short"))?;
        let end = at + 2 + length;
        if length < 2 || end > bytes.len() {
            return Err(malformed("a JPEG segment runs past the end of the file"));
        }
        let segment = bytes.get(at..end).ok_or_else(|| malformed("a JPEG segment runs past the end of the file"))?;
        let payload = segment.get(4..).unwrap_or_default();
        if marker == 0xDA {
            // Start of scan: the image data follows, with no more metadata to look at.
            out.extend_from_slice(bytes.get(at..).unwrap_or_default());
            return Ok((out, removed));
        }
        if marker == 0xE1 && !keep_location {
            if payload.starts_with(EXIF_HEADER) {
                let mut kept = segment.to_vec();
                match kept.get_mut(4 + EXIF_HEADER.len()..).and_then(wipe_gps) {
                    Some(wiped) => {
                        removed |= wiped;
                        out.extend_from_slice(&kept);
                    }
                    // Unreadable EXIF might still hold a position: drop it whole.
                    None => removed = true,
                }
                at = end;
                continue;
            }
            if XMP_HEADERS.iter().any(|h| payload.starts_with(h)) {
                removed = true;
                at = end;
                continue;
            }
        }
        out.extend_from_slice(segment);
        at = end;
    }
}

/// Reads TIFF numbers in the file's byte order, bounds-checked.
struct Tiff<'a> {
    data: &'a [u8],
    little_endian: bool,
}

impl Tiff<'_> {
    fn u16_at(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.data.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.little_endian { u16::from_le_bytes(b) } else { u16::from_be_bytes(b) })
    }

    fn u32_at(&self, at: usize) -> Option<usize> {
        let b: [u8; 4] = self.data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        let v = if self.little_endian { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) };
        usize::try_from(v).ok()
    }
}

fn tiff_type_size(kind: u16) -> Option<usize> {
    match kind {
        1 | 2 | 6 | 7 => Some(1),
        3 | 8 => Some(2),
        4 | 9 | 11 => Some(4),
        5 | 10 | 12 => Some(8),
        _ => None,
    }
}

/// Zeroes the GPS directory of a TIFF block and the values it points to. `Some(true)` when
/// there was one, `Some(false)` when there was none, `None` when the block is unreadable.
fn wipe_gps(tiff: &mut [u8]) -> Option<bool> {
    let little_endian = match tiff.get(0..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    // First find every byte range to zero, so that an unreadable block is left whole (and dropped).
    let mut ranges = Vec::new();
    {
        let t = Tiff { data: tiff, little_endian };
        let ifd0 = t.u32_at(4)?;
        let count = usize::from(t.u16_at(ifd0)?);
        let mut gps = None;
        for i in 0..count {
            let entry = ifd0 + 2 + 12 * i;
            if t.u16_at(entry)? == GPS_IFD_TAG {
                gps = Some(t.u32_at(entry + 8)?);
            }
        }
        let Some(gps) = gps else { return Some(false) };
        let gps_count = usize::from(t.u16_at(gps)?);
        for i in 0..gps_count {
            let entry = gps + 2 + 12 * i;
            let size = tiff_type_size(t.u16_at(entry + 2)?)?.checked_mul(t.u32_at(entry + 4)?)?;
            if size > 4 {
                let offset = t.u32_at(entry + 8)?;
                ranges.push(offset..offset.checked_add(size)?);
            }
            ranges.push(entry..entry + 12);
        }
        ranges.push(gps..gps + 2);
    }
    if ranges.iter().any(|r| r.end > tiff.len()) {
        return None;
    }
    for range in ranges {
        if let Some(bytes) = tiff.get_mut(range) {
            bytes.fill(0);
        }
    }
    Some(true)
}

fn clean_png(bytes: &[u8], keep_location: bool) -> Result<(Vec<u8>, bool), DomainError> {
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(PNG_SIGNATURE);
    let mut removed = false;
    let mut at = PNG_SIGNATURE.len();
    loop {
        let header: [u8; 8] =
            bytes.get(at..at + 8).and_then(|h| h.try_into().ok()).ok_or_else(|| malformed("the PNG is cut short"))?;
        let [l0, l1, l2, l3, k0, k1, k2, k3] = header;
        let length =
            usize::try_from(u32::from_be_bytes([l0, l1, l2, l3])).map_err(|_| malformed("a PNG chunk is too long"))?;
        let kind = &[k0, k1, k2, k3];
        let end = at
            .checked_add(12)
            .and_then(|e| e.checked_add(length))
            .filter(|e| *e <= bytes.len())
            .ok_or_else(|| malformed("a PNG chunk runs past the end of the file"))?;
        let data = bytes.get(at + 8..at + 8 + length).unwrap_or_default();
        let is_xmp = matches!(kind, b"iTXt" | b"tEXt" | b"zTXt") && data.starts_with(b"XML:com.adobe.xmp\0");
        if !keep_location && (kind == b"eXIf" || is_xmp) {
            removed = true;
        } else {
            out.extend_from_slice(bytes.get(at..end).unwrap_or_default());
        }
        at = end;
        if kind == b"IEND" {
            return Ok((out, removed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A little-endian TIFF block with an orientation tag in IFD0 and a GPS directory holding a
    /// latitude of 60/1, 10/1, 30/1 (three rationals stored out of line).
    fn exif_with_gps() -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(b"II");
        t.extend_from_slice(&42u16.to_le_bytes());
        t.extend_from_slice(&8u32.to_le_bytes());
        // IFD0 at 8: 2 entries, then next-IFD 0.
        t.extend_from_slice(&2u16.to_le_bytes());
        t.extend_from_slice(&0x0112u16.to_le_bytes()); // orientation
        t.extend_from_slice(&3u16.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&6u32.to_le_bytes());
        t.extend_from_slice(&GPS_IFD_TAG.to_le_bytes());
        t.extend_from_slice(&4u16.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        let gps_at = 8 + 2 + 24 + 4;
        t.extend_from_slice(&(gps_at as u32).to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes());
        // GPS IFD: 1 entry (GPSLatitude, 3 rationals at `values_at`).
        t.extend_from_slice(&1u16.to_le_bytes());
        t.extend_from_slice(&2u16.to_le_bytes());
        t.extend_from_slice(&5u16.to_le_bytes());
        t.extend_from_slice(&3u32.to_le_bytes());
        let values_at = gps_at + 2 + 12 + 4;
        t.extend_from_slice(&(values_at as u32).to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes());
        for (n, d) in [(60u32, 1u32), (10, 1), (30, 1)] {
            t.extend_from_slice(&n.to_le_bytes());
            t.extend_from_slice(&d.to_le_bytes());
        }
        t
    }

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(payload);
        s
    }

    fn jpeg(app1: &[Vec<u8>]) -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        for payload in app1 {
            j.extend(segment(0xE1, payload));
        }
        j.extend(segment(0xDB, &[0u8; 65]));
        j.extend(segment(0xDA, &[1, 2, 3, 4]));
        j.extend_from_slice(&[0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD9]);
        j
    }

    fn exif_payload(tiff: &[u8]) -> Vec<u8> {
        [EXIF_HEADER, tiff].concat()
    }

    #[test]
    fn the_gps_directory_is_wiped_and_the_rest_kept() {
        let original = jpeg(&[exif_payload(&exif_with_gps())]);
        let cleaned = clean(&original, false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cleaned.content_type, "image/jpeg");
        assert!(cleaned.location_removed);
        assert_eq!(cleaned.bytes.len(), original.len(), "wiped in place");
        let latitude_60: Vec<u8> = [60u32.to_le_bytes(), 1u32.to_le_bytes()].concat();
        assert!(original.windows(8).any(|w| w == latitude_60.as_slice()));
        assert!(!cleaned.bytes.windows(8).any(|w| w == latitude_60.as_slice()), "the latitude is gone");
        let orientation: &[u8] = &[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0];
        assert!(cleaned.bytes.windows(orientation.len()).any(|w| w == orientation), "orientation survives");
        assert!(cleaned.bytes.ends_with(&[0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD9]), "image data untouched");
    }

    #[test]
    fn keeping_the_location_changes_nothing() {
        let original = jpeg(&[exif_payload(&exif_with_gps())]);
        let kept = clean(&original, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(kept.bytes, original);
        assert!(!kept.location_removed);
    }

    #[test]
    fn xmp_and_unreadable_exif_are_dropped() {
        let xmp = [XMP_HEADERS[0], b"<x:xmpmeta><exif:GPSLatitude>60,10.5N</exif:GPSLatitude></x:xmpmeta>".as_slice()]
            .concat();
        let broken_exif = exif_payload(b"XX\x2a\x00garbage");
        let original = jpeg(&[xmp, broken_exif]);
        let cleaned = clean(&original, false).unwrap_or_else(|e| panic!("{e}"));
        assert!(cleaned.location_removed);
        assert_eq!(cleaned.bytes, jpeg(&[]));
    }

    #[test]
    fn a_photo_without_location_is_left_alone() {
        let original = jpeg(&[]);
        let cleaned = clean(&original, false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cleaned.bytes, original);
        assert!(!cleaned.location_removed);
    }

    fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        c.extend_from_slice(&[0, 0, 0, 0]); // CRC: not checked here
        c
    }

    #[test]
    fn png_exif_chunks_are_dropped() {
        let ihdr = png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
        let idat = png_chunk(b"IDAT", &[1, 2, 3]);
        let iend = png_chunk(b"IEND", &[]);
        let exif = png_chunk(b"eXIf", &exif_with_gps());
        let original = [PNG_SIGNATURE.to_vec(), ihdr.clone(), exif, idat.clone(), iend.clone()].concat();
        let cleaned = clean(&original, false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cleaned.content_type, "image/png");
        assert!(cleaned.location_removed);
        assert_eq!(cleaned.bytes, [PNG_SIGNATURE.to_vec(), ihdr, idat, iend].concat());
    }

    #[test]
    fn other_files_and_broken_images_are_refused() {
        assert_eq!(clean(b"GIF89a....", false).map_err(|e| e.code().key()), Err("photo_type_unsupported"));
        assert_eq!(clean(b"", false).map_err(|e| e.code().key()), Err("photo_type_unsupported"));
        let mut cut = jpeg(&[exif_payload(&exif_with_gps())]);
        cut.truncate(30);
        assert_eq!(clean(&cut, false).map_err(|e| e.code().key()), Err("photo_malformed"));
        assert_eq!(clean(PNG_SIGNATURE, false).map_err(|e| e.code().key()), Err("photo_malformed"));
    }

    proptest! {
        #[test]
        fn any_bytes_give_an_answer_never_a_crash(tail in proptest::collection::vec(any::<u8>(), 0..400), keep in any::<bool>()) {
            let _ = clean(&[JPEG_SOI, tail.as_slice()].concat(), keep);
            let _ = clean(&[PNG_SIGNATURE, tail.as_slice()].concat(), keep);
            let mut with_exif = jpeg(&[exif_payload(&tail)]);
            with_exif.truncate(with_exif.len().min(tail.len() + 20));
            let _ = clean(&with_exif, keep);
        }
    }
}
