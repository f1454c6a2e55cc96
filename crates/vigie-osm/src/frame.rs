//! The PBF framing layer: a file is a sequence of `[4-byte length][BlobHeader][Blob]` frames.
//!
//! Indexing the frames first costs one read of the headers only (blob bodies are skipped with a
//! seek) and tells, before any decompression, whether the bytes are a PBF file at all and whether
//! it was cut short. The decoding workers then fetch frames by offset, in parallel.
use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read, Seek, SeekFrom};

use crate::{OsmError, pbf};

/// The format's own limits (OSM wiki, "PBF Format"): a BlobHeader is under 64 KiB, a Blob under 32 MiB.
const MAX_HEADER_LEN: u32 = 64 * 1024;
const MAX_BLOB_LEN: u64 = 32 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameKind {
    Header,
    Data,
    /// Blob types a reader must skip (the format allows them).
    Other,
}

/// One frame: where it starts and how many bytes it spans, length prefix included, and where
/// its Blob starts (after the BlobHeader read here, so the decoder never parses it again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    pub offset: u64,
    pub len: u64,
    pub kind: FrameKind,
    pub blob_offset: u64,
}

/// Lists the frames of `file` (of `file_len` bytes), checking that the file is a PBF file
/// and that it is whole.
pub(crate) fn index_frames(path: &str, file: File, file_len: u64) -> Result<Vec<Frame>, OsmError> {
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    // The first bytes, to say what the file is when it is not PBF.
    let head: Vec<u8> = reader.fill_buf().map_err(|e| unreadable(path, e))?.iter().take(64).copied().collect();
    let mut frames = Vec::new();
    let mut offset = 0u64;
    let mut header = Vec::new();
    while offset < file_len {
        let first = frames.is_empty();
        let truncated = |reason: String| OsmError::Corrupt { path: path.to_owned(), reason };
        let mut prefix = [0u8; 4];
        let got = read_up_to(&mut reader, &mut prefix).map_err(|e| unreadable(path, e))?.len();
        if got < 4 {
            return Err(if first {
                not_pbf(path, &head, file_len)
            } else {
                truncated(format!(
                    "the file ends {got} byte(s) into block {} (at byte {offset}); the download or copy was probably interrupted",
                    frames.len() + 1
                ))
            });
        }
        let header_len = u32::from_be_bytes(prefix);
        if header_len == 0 || header_len >= MAX_HEADER_LEN {
            return Err(if first {
                not_pbf(path, &head, file_len)
            } else {
                truncated(format!(
                    "block {} at byte {offset} has an impossible header size ({header_len} bytes)",
                    frames.len() + 1
                ))
            });
        }
        header.resize(header_len as usize, 0);
        let read = read_up_to(&mut reader, &mut header).map_err(|e| unreadable(path, e))?;
        let parsed = parse_blob_header(read);
        if first && !looks_like_osm_header(read) {
            return Err(not_pbf(path, &head, file_len));
        }
        if read.len() < header_len as usize {
            return Err(truncated(format!(
                "the file ends inside the header of block {} (at byte {offset}); the download or copy was probably interrupted",
                frames.len() + 1
            )));
        }
        let Some((kind, data_len)) = parsed else {
            return Err(truncated(format!("the header of block {} at byte {offset} is damaged", frames.len() + 1)));
        };
        if data_len > MAX_BLOB_LEN {
            return Err(truncated(format!(
                "block {} at byte {offset} claims {data_len} bytes, more than the format allows",
                frames.len() + 1
            )));
        }
        let len = 4 + u64::from(header_len) + data_len;
        if offset + len > file_len {
            return Err(truncated(format!(
                "block {} starts at byte {offset} and needs {len} bytes, but the file stops after {} of them ({} bytes in all); the download or copy was probably interrupted",
                frames.len() + 1,
                file_len - offset,
                file_len
            )));
        }
        // data_len ≤ 32 MiB, so the cast is exact.
        reader.seek_relative(data_len as i64).map_err(|e| unreadable(path, e))?;
        frames.push(Frame { offset, len, kind, blob_offset: offset + 4 + u64::from(header_len) });
        offset += len;
    }
    match frames.first() {
        None => Err(not_pbf(path, &head, file_len)),
        Some(frame) if frame.kind != FrameKind::Header => Err(not_pbf(path, &head, file_len)),
        Some(_) => Ok(frames),
    }
}

/// Reads the Blob of `frame` into `buf` (replacing its content).
pub(crate) fn read_blob(path: &str, file: &mut File, frame: &Frame, buf: &mut Vec<u8>) -> Result<(), OsmError> {
    buf.clear();
    let blob_len = frame.offset + frame.len - frame.blob_offset;
    file.seek(SeekFrom::Start(frame.blob_offset)).map_err(|e| unreadable(path, e))?;
    let read = file.by_ref().take(blob_len).read_to_end(buf).map_err(|e| unreadable(path, e))?;
    if (read as u64) < blob_len {
        return Err(OsmError::Corrupt {
            path: path.to_owned(),
            reason: format!("the file became shorter while it was being read (block at byte {})", frame.offset),
        });
    }
    Ok(())
}

pub(crate) fn unreadable(path: &str, source: std::io::Error) -> OsmError {
    OsmError::Unreadable { path: path.to_owned(), source }
}

/// Fills `buf` as far as the reader allows; returns the part that was read.
fn read_up_to<'b>(reader: &mut impl Read, buf: &'b mut [u8]) -> std::io::Result<&'b [u8]> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(buf.get(..filled).unwrap_or_default())
}

/// Every PBF file starts with a BlobHeader whose first field is the type string "OSMHeader":
/// bytes 0x0A 0x09 "OSMHeader". A file cut inside those bytes still shows a prefix of them.
fn looks_like_osm_header(header: &[u8]) -> bool {
    const START: &[u8] = b"\x0a\x09OSMHeader";
    !header.is_empty() && header.iter().zip(START).all(|(byte, expected)| byte == expected)
}

/// Explains what the file seems to be instead, from its first bytes.
fn not_pbf(path: &str, start: &[u8], file_len: u64) -> OsmError {
    let text = String::from_utf8_lossy(start);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let reason = if file_len == 0 {
        "the file is empty".to_owned()
    } else if trimmed.starts_with("<?xml") || trimmed.starts_with("<osm") {
        "it looks like OSM XML; convert it first, for example with `osmium cat extract.osm -o extract.osm.pbf`"
            .to_owned()
    } else if trimmed.starts_with('{') || trimmed.starts_with('[') {
        "it looks like JSON (GeoJSON?); Vigie needs an .osm.pbf extract, such as those published by Geofabrik or BBBike"
            .to_owned()
    } else if start.starts_with(b"\xff\xe0o5m") || start.starts_with(b"\xff\xe0") {
        "it looks like an o5m file; convert it to .osm.pbf first".to_owned()
    } else if start.starts_with(b"PK") || start.starts_with(b"\x1f\x8b") || start.starts_with(b"BZh") {
        "it is a compressed archive (zip, gzip or bzip2); extract the .osm.pbf file from it first".to_owned()
    } else {
        "it does not start with the header block of an .osm.pbf file".to_owned()
    };
    OsmError::NotPbf { path: path.to_owned(), reason }
}

/// Reads the two fields we need from a BlobHeader protobuf message:
/// `type` (field 1, string) and `datasize` (field 3, int32). Returns `None` when malformed.
fn parse_blob_header(bytes: &[u8]) -> Option<(FrameKind, u64)> {
    let mut kind = None;
    let mut data_len = None;
    for field in pbf::fields(bytes) {
        match field.ok()? {
            (1, value) => {
                kind = Some(match value.bytes(1).ok()? {
                    b"OSMHeader" => FrameKind::Header,
                    b"OSMData" => FrameKind::Data,
                    _ => FrameKind::Other,
                })
            }
            (3, value) => data_len = Some(value.int(3).ok()?),
            _ => {}
        }
    }
    Some((kind?, data_len?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_headers_are_parsed() {
        // type = "OSMData", datasize = 300 (varint 0xAC 0x02)
        let bytes = b"\x0a\x07OSMData\x18\xac\x02";
        assert_eq!(parse_blob_header(bytes), Some((FrameKind::Data, 300)));
        assert_eq!(parse_blob_header(b"\x0a\x07OSMDa"), None);
        assert_eq!(parse_blob_header(b"\x18\xac\x02"), None, "a header without a type is refused");
    }

    #[test]
    fn the_osm_header_start_is_recognised_even_when_cut() {
        assert!(looks_like_osm_header(b"\x0a\x09OSMHeader\x18\x80"));
        assert!(looks_like_osm_header(b"\x0a\x09OSM"));
        assert!(!looks_like_osm_header(b"\x0a\x07OSMData"));
        assert!(!looks_like_osm_header(b""));
    }

    #[test]
    fn other_formats_get_a_hint() {
        let reason = |start: &[u8]| match not_pbf("f", start, 10) {
            OsmError::NotPbf { reason, .. } => reason,
            other => format!("unexpected {other:?}"),
        };
        assert!(reason(b"<?xml version").contains("OSM XML"));
        assert!(reason(b"{\"type\"").contains("JSON"));
        assert!(reason(b"PK\x03\x04").contains("archive"));
        assert!(reason(b"\x00\x01\x02\x03").contains("header block"));
    }
}
