//! Vigie's own decoder of OSM PBF blocks (fileformat.proto and osmformat.proto of the OSM wiki's
//! "PBF Format"), written for reading speed.
//!
//! A general protobuf library builds every message of a block with its own allocations,
//! including the metadata (versions, timestamps, users) Vigie never reads. This decoder keeps
//! the inflated block as is: strings are slices of it, and the packed lists (ids, coordinates,
//! tags, refs) are read lazily, element by element, as the reader walks them.
//!
//! Malformed bytes give a [`DecodeError`], never a panic nor an out-of-bounds index: every
//! length is checked against the bytes that remain, and arithmetic on decoded numbers wraps.
use libdeflater::Decompressor;

/// The format's limit on an inflated block (OSM wiki, "PBF Format").
const MAX_BLOCK_LEN: usize = 32 * 1024 * 1024;

/// Why a block cannot be decoded, in words a person can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("a number is cut short")]
    TruncatedNumber,
    #[error("a number is longer than 10 bytes")]
    NumberTooLong,
    #[error("a field claims more bytes than remain")]
    LengthPastEnd,
    #[error("field {0} has an unexpected encoding")]
    WrongWireType(u64),
    #[error("a tag or role refers to string {0}, past the end of the block's string table")]
    StringPastTable(u64),
    #[error("the tags of the dense nodes do not end with the expected 0")]
    UnterminatedTags,
    #[error("the parallel lists of {0} have different lengths")]
    MismatchedLists(&'static str),
    #[error("a relation member has the unknown type {0}")]
    UnknownMemberType(u64),
    #[error("a list appears twice in one element")]
    SplitList,
    #[error("it holds no data")]
    NoData,
    #[error(
        "it is compressed with {0}, which this reader does not support; recompress the file with zlib, for example with `osmium cat in.osm.pbf -o out.osm.pbf`"
    )]
    UnsupportedCompression(&'static str),
    #[error("its zlib data is damaged")]
    BadZlib,
    #[error("it inflates to a size other than the {0} bytes it announces")]
    WrongInflatedSize(usize),
    #[error("it announces {0} bytes once inflated, more than the format allows")]
    TooLarge(u64),
}

type Result<T> = std::result::Result<T, DecodeError>;

/// A cursor over protobuf bytes. Invariant: `pos <= bytes.len()`.
#[derive(Debug, Clone, Copy, Default)]
struct Bytes<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Bytes { bytes, pos: 0 }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    #[inline(always)]
    fn varint(&mut self) -> Result<u64> {
        // Most values in a block are deltas of one to three bytes: those are decoded inline.
        match *self.rest() {
            [b0, ..] if b0 < 0x80 => {
                self.pos += 1;
                Ok(u64::from(b0))
            }
            [b0, b1, ..] if b1 < 0x80 => {
                self.pos += 2;
                Ok(u64::from(b0 & 0x7f) | u64::from(b1) << 7)
            }
            [b0, b1, b2, ..] if b2 < 0x80 => {
                self.pos += 3;
                Ok(u64::from(b0 & 0x7f) | u64::from(b1 & 0x7f) << 7 | u64::from(b2) << 14)
            }
            _ => self.long_varint(),
        }
    }

    #[inline(never)]
    fn long_varint(&mut self) -> Result<u64> {
        let rest = self.rest();
        let mut value = 0u64;
        for (i, &byte) in rest.iter().take(10).enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                self.pos += i + 1;
                return Ok(value);
            }
        }
        Err(if rest.len() < 10 { DecodeError::TruncatedNumber } else { DecodeError::NumberTooLong })
    }

    fn zigzag(&mut self) -> Result<i64> {
        self.varint().map(zigzag)
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8]> {
        let rest = self.rest();
        let len = usize::try_from(len).map_err(|_| DecodeError::LengthPastEnd)?;
        let taken = rest.get(..len).ok_or(DecodeError::LengthPastEnd)?;
        self.pos += len;
        Ok(taken)
    }

    /// The next field: its number and value.
    fn field(&mut self) -> Result<(u64, Value<'a>)> {
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Value::Int(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed
            }
            2 => {
                let len = self.varint()?;
                Value::Len(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Value::Fixed
            }
            _ => return Err(DecodeError::WrongWireType(key >> 3)),
        };
        Ok((key >> 3, value))
    }
}

/// A field's value by wire type (no field Vigie reads is fixed-size).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Int(u64),
    Fixed,
    Len(&'a [u8]),
}

impl<'a> Value<'a> {
    pub(crate) fn int(self, field: u64) -> Result<u64> {
        match self {
            Value::Int(n) => Ok(n),
            _ => Err(DecodeError::WrongWireType(field)),
        }
    }

    pub(crate) fn bytes(self, field: u64) -> Result<&'a [u8]> {
        match self {
            Value::Len(bytes) => Ok(bytes),
            _ => Err(DecodeError::WrongWireType(field)),
        }
    }
}

/// The items `next` gives until it gives None or an error, which ends the iteration: after
/// an error the position in the bytes means nothing, and a caller that counts or skips errors
/// must still come to an end.
fn until_error<T>(mut next: impl FnMut() -> Option<Result<T>>) -> impl Iterator<Item = Result<T>> {
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        let item = next()?;
        failed = item.is_err();
        Some(item)
    })
}

/// The fields of a message, in order.
pub(crate) fn fields(bytes: &[u8]) -> impl Iterator<Item = Result<(u64, Value<'_>)>> {
    let mut cursor = Bytes::new(bytes);
    until_error(move || (!cursor.is_empty()).then(|| cursor.field()))
}

/// Sets a packed list that must appear at most once.
fn set_packed<'a>(slot: &mut Bytes<'a>, field: u64, value: Value<'a>) -> Result<()> {
    if !slot.bytes.is_empty() {
        return Err(DecodeError::SplitList);
    }
    *slot = Bytes::new(value.bytes(field)?);
    Ok(())
}

/// The content of a frame's Blob, after its length prefix and BlobHeader.
pub(crate) enum BlobData<'a> {
    Raw(&'a [u8]),
    Zlib { data: &'a [u8], raw_size: usize },
}

/// What a Blob message holds: raw or zlib-compressed bytes.
pub(crate) fn blob(blob: &[u8]) -> Result<BlobData<'_>> {
    let (mut raw, mut zlib, mut raw_size) = (None, None, 0u64);
    for field in fields(blob) {
        let (number, value) = field?;
        let unsupported = |name| Err(DecodeError::UnsupportedCompression(name));
        match number {
            1 => raw = Some(value.bytes(number)?),
            2 => raw_size = value.int(number)?,
            3 => zlib = Some(value.bytes(number)?),
            4 => return unsupported("LZMA"),
            5 => return unsupported("bzip2"),
            6 => return unsupported("LZ4"),
            7 => return unsupported("Zstandard"),
            _ => {}
        }
    }
    match (raw, zlib) {
        (Some(bytes), _) => Ok(BlobData::Raw(bytes)),
        (None, Some(data)) if raw_size <= MAX_BLOCK_LEN as u64 => {
            Ok(BlobData::Zlib { data, raw_size: raw_size as usize })
        }
        (None, Some(_)) => Err(DecodeError::TooLarge(raw_size)),
        (None, None) => Err(DecodeError::NoData),
    }
}

/// Inflates zlib blocks into a buffer reused from block to block. libdeflate inflates a whole
/// buffer at once, about twice as fast as a streaming zlib.
pub(crate) struct Inflater {
    zlib: Decompressor,
    out: Vec<u8>,
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater { zlib: Decompressor::new(), out: Vec::new() }
    }
}

impl Inflater {
    /// The block's bytes: `data` itself when raw, else inflated into the reused buffer.
    pub(crate) fn block<'s>(&'s mut self, data: BlobData<'s>) -> Result<&'s [u8]> {
        let (data, raw_size) = match data {
            BlobData::Raw(bytes) => return Ok(bytes),
            BlobData::Zlib { data, raw_size } => (data, raw_size),
        };
        // The buffer only grows (no zero-filling of bytes that will be overwritten anyway).
        if self.out.len() < raw_size {
            self.out.resize(raw_size, 0);
        }
        let out = self.out.get_mut(..raw_size).ok_or(DecodeError::WrongInflatedSize(raw_size))?;
        let inflated = self.zlib.zlib_decompress(data, out).map_err(|error| match error {
            libdeflater::DecompressionError::InsufficientSpace => DecodeError::WrongInflatedSize(raw_size),
            libdeflater::DecompressionError::BadData => DecodeError::BadZlib,
        })?;
        if inflated != raw_size {
            return Err(DecodeError::WrongInflatedSize(raw_size));
        }
        Ok(out)
    }
}

/// The `required_features` of a HeaderBlock; a feature that is not UTF-8 reads as "".
pub(crate) fn required_features(header: &[u8]) -> Result<Vec<&str>> {
    let mut features = Vec::new();
    for field in fields(header) {
        let (number, value) = field?;
        if number == 4 {
            features.push(std::str::from_utf8(value.bytes(number)?).unwrap_or_default());
        }
    }
    Ok(features)
}

/// What a block holds, by element kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Contents {
    pub nodes: bool,
    pub ways: bool,
    pub relations: bool,
}

/// A PrimitiveBlock whose elements are decoded as they are walked.
pub(crate) struct Block<'a> {
    strings: Vec<&'a str>,
    granularity: i64,
    lat_offset: i64,
    lon_offset: i64,
    /// Serialised Node, DenseNodes, Way and Relation messages of all groups, in order.
    nodes: Vec<&'a [u8]>,
    dense: Vec<&'a [u8]>,
    ways: Vec<&'a [u8]>,
    relations: Vec<&'a [u8]>,
}

impl<'a> Block<'a> {
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut block = Block {
            strings: Vec::new(),
            granularity: 100,
            lat_offset: 0,
            lon_offset: 0,
            nodes: Vec::new(),
            dense: Vec::new(),
            ways: Vec::new(),
            relations: Vec::new(),
        };
        for field in fields(bytes) {
            match field? {
                (1, value) => block.strings = string_table(value.bytes(1)?)?,
                (2, value) => block.add_group(value.bytes(2)?)?,
                // int32 on the wire: a negative value arrives as a 10-byte varint.
                (17, value) => block.granularity = value.int(17)? as i32 as i64,
                (19, value) => block.lat_offset = value.int(19)? as i64,
                (20, value) => block.lon_offset = value.int(20)? as i64,
                _ => {}
            }
        }
        Ok(block)
    }

    fn add_group(&mut self, group: &'a [u8]) -> Result<()> {
        for field in fields(group) {
            let (number, value) = field?;
            let list = match number {
                1 => &mut self.nodes,
                2 => &mut self.dense,
                3 => &mut self.ways,
                4 => &mut self.relations,
                _ => continue,
            };
            list.push(value.bytes(number)?);
        }
        Ok(())
    }

    pub(crate) fn contents(&self) -> Contents {
        Contents {
            nodes: !self.nodes.is_empty() || self.dense.iter().any(|d| !d.is_empty()),
            ways: !self.ways.is_empty(),
            relations: !self.relations.is_empty(),
        }
    }

    /// The string at `index` in the block's string table.
    fn string(&self, index: u64) -> Result<&'a str> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.strings.get(i))
            .copied()
            .ok_or(DecodeError::StringPastTable(index))
    }

    /// Calls `visit` with every node of the block, dense ones first.
    pub(crate) fn for_each_node(&self, mut visit: impl FnMut(Node<'a>) -> Result<()>) -> Result<()> {
        for &dense in &self.dense {
            let mut nodes = DenseNodes::parse(dense)?;
            while let Some(node) = nodes.next(self)? {
                visit(node)?;
            }
        }
        for &node in &self.nodes {
            visit(self.node(node)?)?;
        }
        Ok(())
    }

    fn node(&self, bytes: &'a [u8]) -> Result<Node<'a>> {
        let (mut id, mut lat, mut lon) = (0, 0, 0);
        let mut tags = RawTags::default();
        for field in fields(bytes) {
            match field? {
                (1, value) => id = zigzag(value.int(1)?),
                (2, value) => set_packed(&mut tags.keys, 2, value)?,
                (3, value) => set_packed(&mut tags.vals, 3, value)?,
                (8, value) => lat = zigzag(value.int(8)?),
                (9, value) => lon = zigzag(value.int(9)?),
                _ => {}
            }
        }
        Ok(Node { id, nano_lat: self.nano(self.lat_offset, lat), nano_lon: self.nano(self.lon_offset, lon), tags })
    }

    fn nano(&self, offset: i64, value: i64) -> i64 {
        offset.wrapping_add(self.granularity.wrapping_mul(value))
    }

    pub(crate) fn ways(&self) -> impl Iterator<Item = Result<Way<'a>>> + '_ {
        self.ways.iter().map(|&bytes| Way::parse(bytes))
    }

    pub(crate) fn relations(&self) -> impl Iterator<Item = Result<Relation<'a>>> + '_ {
        self.relations.iter().map(|&bytes| Relation::parse(bytes))
    }
}

/// The strings of a StringTable message; a string that is not UTF-8 reads as "".
fn string_table(bytes: &[u8]) -> Result<Vec<&str>> {
    // Checking the table's bytes in long runs is much faster than string by string. Runs of
    // valid UTF-8 are broken by the length prefixes of strings of 128 bytes or more (which are
    // not UTF-8); a string inside a run is UTF-8.
    // The table is walked by hand, not through `fields`, for the strings' offsets.
    let mut chunks = bytes.utf8_chunks();
    let (mut run_start, mut run, mut next) = (0, "", 0);
    let mut strings = Vec::new();
    let mut cursor = Bytes::new(bytes);
    while !cursor.is_empty() {
        let (number, value) = cursor.field()?;
        if number != 1 {
            continue;
        }
        let s = value.bytes(1)?;
        let (start, end) = (cursor.pos - s.len(), cursor.pos);
        while run_start + run.len() < end {
            let Some(chunk) = chunks.next() else { break };
            (run_start, run) = (next, chunk.valid());
            next += chunk.valid().len() + chunk.invalid().len();
        }
        let checked = start.checked_sub(run_start).and_then(|from| run.get(from..end - run_start));
        strings.push(checked.or_else(|| std::str::from_utf8(s).ok()).unwrap_or_default());
    }
    Ok(strings)
}

fn zigzag(n: u64) -> i64 {
    (n >> 1) as i64 ^ -((n & 1) as i64)
}

/// A node, from a DenseNodes list or a Node message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node<'a> {
    pub id: i64,
    nano_lat: i64,
    nano_lon: i64,
    pub tags: RawTags<'a>,
}

impl Node<'_> {
    pub(crate) fn lat(&self) -> f64 {
        1e-9 * self.nano_lat as f64
    }

    pub(crate) fn lon(&self) -> f64 {
        1e-9 * self.nano_lon as f64
    }
}

/// The three delta-coded columns of a DenseNodes message and its tags; the metadata
/// (denseinfo) is skipped.
struct DenseNodes<'a> {
    ids: Bytes<'a>,
    lats: Bytes<'a>,
    lons: Bytes<'a>,
    keys_vals: Bytes<'a>,
    id: i64,
    lat: i64,
    lon: i64,
}

impl<'a> DenseNodes<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut dense = DenseNodes {
            ids: Bytes::default(),
            lats: Bytes::default(),
            lons: Bytes::default(),
            keys_vals: Bytes::default(),
            id: 0,
            lat: 0,
            lon: 0,
        };
        for field in fields(bytes) {
            match field? {
                (1, value) => set_packed(&mut dense.ids, 1, value)?,
                (8, value) => set_packed(&mut dense.lats, 8, value)?,
                (9, value) => set_packed(&mut dense.lons, 9, value)?,
                (10, value) => set_packed(&mut dense.keys_vals, 10, value)?,
                _ => {}
            }
        }
        Ok(dense)
    }

    #[inline(always)]
    fn next(&mut self, block: &Block<'a>) -> Result<Option<Node<'a>>> {
        if self.ids.is_empty() {
            // When no node of the list has tags, keys_vals is left out altogether.
            return if self.lats.is_empty() && self.lons.is_empty() && self.keys_vals.is_empty() {
                Ok(None)
            } else {
                Err(DecodeError::MismatchedLists("dense nodes"))
            };
        }
        if self.lats.is_empty() || self.lons.is_empty() {
            return Err(DecodeError::MismatchedLists("dense nodes"));
        }
        self.id = self.id.wrapping_add(self.ids.zigzag()?);
        self.lat = self.lat.wrapping_add(self.lats.zigzag()?);
        self.lon = self.lon.wrapping_add(self.lons.zigzag()?);
        let mut tags = RawTags::default();
        if !self.keys_vals.bytes.is_empty() {
            // This node's `(key value)* 0`, kept as a slice of key, value, key, value...
            let start = self.keys_vals.pos;
            let mut end = start;
            loop {
                if self.keys_vals.is_empty() {
                    return Err(DecodeError::UnterminatedTags);
                }
                if self.keys_vals.varint()? == 0 {
                    break;
                }
                if self.keys_vals.is_empty() {
                    return Err(DecodeError::UnterminatedTags);
                }
                self.keys_vals.varint()?;
                end = self.keys_vals.pos;
            }
            tags.keys = Bytes::new(self.keys_vals.bytes.get(start..end).unwrap_or_default());
            tags.interleaved = true;
        }
        Ok(Some(Node {
            id: self.id,
            nano_lat: block.nano(block.lat_offset, self.lat),
            nano_lon: block.nano(block.lon_offset, self.lon),
            tags,
        }))
    }
}

/// An element's tags as string-table indices: parallel `keys` and `vals` lists, or one list of
/// key, value, key, value... (`interleaved`, for dense nodes).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RawTags<'a> {
    keys: Bytes<'a>,
    vals: Bytes<'a>,
    interleaved: bool,
}

impl<'a> RawTags<'a> {
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.vals.is_empty()
    }

    /// The tags as strings of `block`'s table.
    pub(crate) fn resolve<'b>(mut self, block: &'b Block<'a>) -> impl Iterator<Item = Result<(&'a str, &'a str)>> + 'b {
        until_error(move || {
            if self.keys.is_empty() {
                return (!self.vals.is_empty()).then_some(Err(DecodeError::MismatchedLists("tag keys and values")));
            }
            Some(self.next_pair(block))
        })
    }

    fn next_pair(&mut self, block: &Block<'a>) -> Result<(&'a str, &'a str)> {
        let key = self.keys.varint()?;
        let values = if self.interleaved { &mut self.keys } else { &mut self.vals };
        if values.is_empty() {
            return Err(DecodeError::MismatchedLists("tag keys and values"));
        }
        let value = values.varint()?;
        Ok((block.string(key)?, block.string(value)?))
    }
}

/// A Way; its metadata and its node locations (LocationsOnWays) are skipped.
pub(crate) struct Way<'a> {
    pub id: i64,
    pub tags: RawTags<'a>,
    refs: Bytes<'a>,
}

impl<'a> Way<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut way = Way { id: 0, tags: RawTags::default(), refs: Bytes::default() };
        for field in fields(bytes) {
            match field? {
                (1, value) => way.id = value.int(1)? as i64,
                (2, value) => set_packed(&mut way.tags.keys, 2, value)?,
                (3, value) => set_packed(&mut way.tags.vals, 3, value)?,
                (8, value) => set_packed(&mut way.refs, 8, value)?,
                _ => {}
            }
        }
        Ok(way)
    }

    /// The node ids of the way, in order.
    pub(crate) fn refs(&self) -> impl Iterator<Item = Result<i64>> + use<'a> {
        let mut refs = self.refs;
        let mut id = 0i64;
        until_error(move || {
            (!refs.is_empty()).then(|| {
                refs.zigzag().map(|d| {
                    id = id.wrapping_add(d);
                    id
                })
            })
        })
    }
}

/// The kind of a relation member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberKind {
    Node,
    Way,
    Relation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Member<'a> {
    pub kind: MemberKind,
    pub id: i64,
    pub role: &'a str,
}

/// A Relation; its metadata is skipped.
pub(crate) struct Relation<'a> {
    pub id: i64,
    pub tags: RawTags<'a>,
    roles: Bytes<'a>,
    ids: Bytes<'a>,
    types: Bytes<'a>,
}

impl<'a> Relation<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut relation = Relation {
            id: 0,
            tags: RawTags::default(),
            roles: Bytes::default(),
            ids: Bytes::default(),
            types: Bytes::default(),
        };
        for field in fields(bytes) {
            match field? {
                (1, value) => relation.id = value.int(1)? as i64,
                (2, value) => set_packed(&mut relation.tags.keys, 2, value)?,
                (3, value) => set_packed(&mut relation.tags.vals, 3, value)?,
                (8, value) => set_packed(&mut relation.roles, 8, value)?,
                (9, value) => set_packed(&mut relation.ids, 9, value)?,
                (10, value) => set_packed(&mut relation.types, 10, value)?,
                _ => {}
            }
        }
        Ok(relation)
    }

    /// The members, in order, with their roles from `block`'s string table.
    pub(crate) fn members<'b>(&self, block: &'b Block<'a>) -> impl Iterator<Item = Result<Member<'a>>> + 'b {
        let (mut roles, mut ids, mut types) = (self.roles, self.ids, self.types);
        let mut id = 0i64;
        until_error(move || {
            if ids.is_empty() && roles.is_empty() && types.is_empty() {
                return None;
            }
            Some(Self::next_member(&mut roles, &mut ids, &mut types, &mut id, block))
        })
    }

    fn next_member(
        roles: &mut Bytes<'a>,
        ids: &mut Bytes<'a>,
        types: &mut Bytes<'a>,
        id: &mut i64,
        block: &Block<'a>,
    ) -> Result<Member<'a>> {
        if ids.is_empty() || roles.is_empty() || types.is_empty() {
            return Err(DecodeError::MismatchedLists("relation members"));
        }
        // roles_sid is an int32: a negative index is as wrong as one past the table.
        let role = block.string(roles.varint()?)?;
        *id = id.wrapping_add(ids.zigzag()?);
        let kind = match types.varint()? {
            0 => MemberKind::Node,
            1 => MemberKind::Way,
            2 => MemberKind::Relation,
            other => return Err(DecodeError::UnknownMemberType(other)),
        };
        Ok(Member { kind, id: *id, role })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A minimal protobuf writer, to build messages by hand.
    fn varint(mut n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out
    }

    fn int(field: u64, n: u64) -> Vec<u8> {
        [varint(field << 3), varint(n)].concat()
    }

    fn len(field: u64, bytes: &[u8]) -> Vec<u8> {
        [varint(field << 3 | 2), varint(bytes.len() as u64), bytes.to_vec()].concat()
    }

    fn packed(field: u64, values: &[u64]) -> Vec<u8> {
        len(field, &values.iter().flat_map(|&v| varint(v)).collect::<Vec<_>>())
    }

    fn zz(n: i64) -> u64 {
        ((n << 1) ^ (n >> 63)) as u64
    }

    fn deltas(values: &[i64]) -> Vec<u64> {
        let mut last = 0;
        values.iter().map(|&v| std::mem::replace(&mut last, v)).zip(values).map(|(prev, &v)| zz(v - prev)).collect()
    }

    fn strings(list: &[&str]) -> Vec<u8> {
        len(1, &list.iter().flat_map(|s| len(1, s.as_bytes())).collect::<Vec<_>>())
    }

    const TABLE: [&str; 5] = ["", "highway", "bus_stop", "name", "Rautatientori"];

    fn dense(ids: &[i64], lats: &[i64], lons: &[i64], keys_vals: Option<&[u64]>) -> Vec<u8> {
        let mut d = [
            packed(1, &deltas(ids)),
            len(5, &packed(1, &[1, 1, 1])),
            packed(8, &deltas(lats)),
            packed(9, &deltas(lons)),
        ]
        .concat();
        if let Some(kv) = keys_vals {
            d.extend(packed(10, kv));
        }
        d
    }

    fn block(groups: &[Vec<u8>]) -> Vec<u8> {
        let mut b = strings(&TABLE);
        for group in groups {
            b.extend(len(2, group));
        }
        // granularity 100 (the default, said explicitly), offsets of 1 degree.
        [b, int(17, 100), int(19, 1_000_000_000), int(20, 2_000_000_000)].concat()
    }

    /// A node as (id, lon, lat, tags).
    type TestNode<'a> = (i64, f64, f64, Vec<(&'a str, &'a str)>);

    /// Every node of a block, tags resolved.
    fn nodes(bytes: &[u8]) -> Result<Vec<TestNode<'_>>> {
        let block = Block::parse(bytes)?;
        let mut out = Vec::new();
        block.for_each_node(|node| {
            let tags = node.tags.resolve(&block).collect::<Result<Vec<_>>>()?;
            out.push((node.id, node.lon(), node.lat(), tags));
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn dense_nodes_are_decoded_with_their_tags() {
        let kv = [0, 1, 2, 3, 4, 0, 0];
        let bytes = block(&[len(2, &dense(&[10, 11, 15], &[100, -50, 7], &[1, 2, 3], Some(&kv)))]);
        let decoded = nodes(&bytes).unwrap();
        assert_eq!(decoded.iter().map(|n| n.0).collect::<Vec<_>>(), [10, 11, 15]);
        assert!(
            (decoded[1].1 - 2.000_000_2).abs() < 1e-12 && (decoded[1].2 - 0.999_995).abs() < 1e-12,
            "{:?}",
            decoded[1]
        );
        assert_eq!(decoded[0].3, []);
        assert_eq!(decoded[1].3, [("highway", "bus_stop"), ("name", "Rautatientori")]);
        // Without keys_vals, no node has tags.
        let bytes = block(&[len(2, &dense(&[1, 2], &[0, 0], &[0, 0], None))]);
        assert!(nodes(&bytes).unwrap().iter().all(|n| n.3.is_empty()));
    }

    #[test]
    fn plain_nodes_ways_and_relations_are_decoded() {
        let node = [int(1, zz(-7)), packed(2, &[1]), packed(3, &[2]), int(8, zz(10)), int(9, zz(-20))].concat();
        let way =
            [int(1, 42), packed(2, &[3]), packed(3, &[4]), len(4, &int(1, 3)), packed(8, &deltas(&[5, 3, 9]))].concat();
        let relation = [
            int(1, 7),
            packed(2, &[3]),
            packed(3, &[4]),
            packed(8, &[1, 3]),
            packed(9, &deltas(&[42, -7])),
            packed(10, &[1, 0]),
        ]
        .concat();
        let bytes = block(&[[len(1, &node), len(3, &way)].concat(), len(4, &relation)]);
        let parsed = Block::parse(&bytes).unwrap();
        assert_eq!(parsed.contents(), Contents { nodes: true, ways: true, relations: true });
        let decoded = nodes(&bytes).unwrap();
        assert_eq!((decoded[0].0, decoded[0].3.clone()), (-7, vec![("highway", "bus_stop")]));
        assert!(
            (decoded[0].1 - 1.999_998).abs() < 1e-12 && (decoded[0].2 - 1.000_001).abs() < 1e-12,
            "{:?}",
            decoded[0]
        );

        let ways: Vec<Way<'_>> = parsed.ways().collect::<Result<_>>().unwrap();
        assert_eq!(ways.len(), 1);
        assert_eq!(ways[0].id, 42);
        assert_eq!(ways[0].refs().collect::<Result<Vec<_>>>(), Ok(vec![5, 3, 9]));
        assert_eq!(ways[0].tags.resolve(&parsed).collect::<Result<Vec<_>>>(), Ok(vec![("name", "Rautatientori")]));

        let relations: Vec<Relation<'_>> = parsed.relations().collect::<Result<_>>().unwrap();
        let members = relations[0].members(&parsed).collect::<Result<Vec<_>>>().unwrap();
        assert_eq!(relations[0].id, 7);
        assert_eq!(
            members,
            [
                Member { kind: MemberKind::Way, id: 42, role: "highway" },
                Member { kind: MemberKind::Node, id: -7, role: "name" }
            ]
        );
    }

    fn node_error(bytes: &[u8]) -> DecodeError {
        nodes(bytes).err().unwrap_or_else(|| panic!("decoded bad bytes"))
    }

    #[test]
    fn each_kind_of_damage_is_named() {
        // A number cut short, or longer than 10 bytes.
        assert_eq!(Block::parse(&[0x88, 0x01, 0x80]).err(), Some(DecodeError::TruncatedNumber));
        assert_eq!(
            Block::parse(&[0x88, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).err(),
            Some(DecodeError::NumberTooLong)
        );
        // A field claiming more bytes than remain.
        assert_eq!(Block::parse(&[0x0a, 0x05, b'a']).err(), Some(DecodeError::LengthPastEnd));
        // A group sent as a number; a deprecated wire type.
        assert_eq!(Block::parse(&int(2, 5)).err(), Some(DecodeError::WrongWireType(2)));
        assert_eq!(Block::parse(&[0x13]).err(), Some(DecodeError::WrongWireType(2)));
        // A tag pointing past the string table.
        let past = block(&[len(2, &dense(&[1], &[0], &[0], Some(&[7, 1, 0])))]);
        assert_eq!(node_error(&past), DecodeError::StringPastTable(7));
        // Dense tags without their final 0.
        let open = block(&[len(2, &dense(&[1], &[0], &[0], Some(&[1, 2])))]);
        assert_eq!(node_error(&open), DecodeError::UnterminatedTags);
        let half = block(&[len(2, &dense(&[1], &[0], &[0], Some(&[1])))]);
        assert_eq!(node_error(&half), DecodeError::UnterminatedTags);
        // Columns of different lengths, either way.
        let short = block(&[len(2, &dense(&[1, 2, 3], &[0, 0], &[0, 0, 0], None))]);
        assert_eq!(node_error(&short), DecodeError::MismatchedLists("dense nodes"));
        let long = block(&[len(2, &dense(&[1], &[0, 0], &[0, 0], None))]);
        assert_eq!(node_error(&long), DecodeError::MismatchedLists("dense nodes"));
        let extra_tags = block(&[len(2, &dense(&[1], &[0], &[0], Some(&[0, 1, 2, 0])))]);
        assert_eq!(node_error(&extra_tags), DecodeError::MismatchedLists("dense nodes"));
        // A list split in two.
        let split = block(&[len(2, &[dense(&[1], &[0], &[0], None), packed(1, &[2])].concat())]);
        assert_eq!(node_error(&split), DecodeError::SplitList);

        let way =
            |keys: &[u64], vals: &[u64]| block(&[len(3, &[int(1, 1), packed(2, keys), packed(3, vals)].concat())]);
        let tags = |bytes: &[u8]| {
            let block = Block::parse(bytes).unwrap();
            let way = block.ways().next().unwrap().unwrap();
            way.tags.resolve(&block).map(|t| t.map(|(k, v)| format!("{k}={v}"))).collect::<Result<Vec<_>>>()
        };
        assert_eq!(tags(&way(&[1, 3], &[2])), Err(DecodeError::MismatchedLists("tag keys and values")));
        assert_eq!(tags(&way(&[1], &[2, 4])), Err(DecodeError::MismatchedLists("tag keys and values")));
        assert_eq!(tags(&way(&[1], &[5])), Err(DecodeError::StringPastTable(5)));

        let relation = |roles: &[u64], ids: &[u64], types: &[u64]| {
            block(&[len(4, &[int(1, 1), packed(8, roles), packed(9, ids), packed(10, types)].concat())])
        };
        let members = |bytes: &[u8]| {
            let block = Block::parse(bytes).unwrap();
            let relation = block.relations().next().unwrap().unwrap();
            relation.members(&block).map(|m| m.map(|m| (m.kind, m.id))).collect::<Result<Vec<_>>>()
        };
        assert_eq!(members(&relation(&[1, 1], &[2], &[0, 0])), Err(DecodeError::MismatchedLists("relation members")));
        assert_eq!(members(&relation(&[1], &[2], &[3])), Err(DecodeError::UnknownMemberType(3)));
        assert_eq!(members(&relation(&[9], &[2], &[0])), Err(DecodeError::StringPastTable(9)));
        assert_eq!(
            members(&relation(&[u64::MAX], &[2], &[0])),
            Err(DecodeError::StringPastTable(u64::MAX)),
            "a negative role index"
        );
    }

    #[test]
    fn tags_with_more_values_than_keys_stop_after_one_error() {
        // Regression: once the keys ran out, every further call gave the same error again, so
        // counting the tags (as the never-panic property test does) never ended.
        let bytes = block(&[len(3, &[int(1, 1), packed(2, &[1]), packed(3, &[2, 4])].concat())]);
        let parsed = Block::parse(&bytes).unwrap();
        let way = parsed.ways().next().unwrap().unwrap();
        let results: Vec<_> = way.tags.resolve(&parsed).take(10).collect();
        assert_eq!(results.len(), 2, "{results:?}");
        assert_eq!(results[1], Err(DecodeError::MismatchedLists("tag keys and values")));
        let relation =
            block(&[len(4, &[int(1, 1), packed(8, &[1, 1]), packed(9, &[2, 4]), packed(10, &[0, 1])].concat())]);
        let parsed = Block::parse(&relation).unwrap();
        let members: Vec<_> = parsed.relations().next().unwrap().unwrap().members(&parsed).collect();
        assert!(members.iter().all(Result::is_ok), "a whole member list ends without an error: {members:?}");
    }

    fn inflate(bytes: &[u8]) -> Result<Vec<u8>> {
        let mut inflater = Inflater::default();
        blob(bytes).and_then(|data| inflater.block(data)).map(<[u8]>::to_vec)
    }

    #[test]
    fn blobs_are_raw_or_zlib_and_other_compressions_are_named() {
        let content = block(&[len(2, &dense(&[1, 2], &[0, 0], &[0, 0], None))]);
        assert_eq!(inflate(&len(1, &content)), Ok(content.clone()));
        let mut compressor = libdeflater::Compressor::new(libdeflater::CompressionLvl::default());
        let mut zlib = vec![0; compressor.zlib_compress_bound(content.len())];
        let n = compressor.zlib_compress(&content, &mut zlib).unwrap();
        zlib.truncate(n);
        let zlib_blob = |raw_size: u64, data: &[u8]| [int(2, raw_size), len(3, data)].concat();
        assert_eq!(inflate(&zlib_blob(content.len() as u64, &zlib)), Ok(content.clone()));
        // Announced sizes that are wrong, too large, or zlib data that is damaged.
        assert_eq!(
            inflate(&zlib_blob(content.len() as u64 - 1, &zlib)),
            Err(DecodeError::WrongInflatedSize(content.len() - 1))
        );
        assert_eq!(
            inflate(&zlib_blob(content.len() as u64 + 1, &zlib)),
            Err(DecodeError::WrongInflatedSize(content.len() + 1))
        );
        assert_eq!(inflate(&zlib_blob(1 << 40, &zlib)), Err(DecodeError::TooLarge(1 << 40)));
        assert_eq!(inflate(&zlib_blob(content.len() as u64, &[0x78, 0x9c, 0xff, 0xff])), Err(DecodeError::BadZlib));
        // Compressions this reader does not have, and a blob with no data.
        assert_eq!(inflate(&[int(2, 10), len(4, b"lzma")].concat()), Err(DecodeError::UnsupportedCompression("LZMA")));
        assert_eq!(inflate(&len(7, b"zstd")), Err(DecodeError::UnsupportedCompression("Zstandard")));
        assert!(DecodeError::UnsupportedCompression("LZMA").to_string().contains("recompress"));
        assert_eq!(inflate(&int(2, 10)), Err(DecodeError::NoData));
        // Raw data claiming more bytes than the Blob holds (the frame's own lengths are checked
        // when the file is indexed).
        assert_eq!(inflate(&[0x0a, 0x05, b'a']), Err(DecodeError::LengthPastEnd));
    }

    #[test]
    fn header_features_and_string_tables_are_read() {
        let header = [len(4, b"OsmSchema-V0.6"), len(4, b"DenseNodes"), len(16, b"osmium")].concat();
        assert_eq!(required_features(&header), Ok(vec!["OsmSchema-V0.6", "DenseNodes"]));
        // Strings of 128 bytes or more have a length prefix that is not UTF-8; a string that is
        // not UTF-8 reads as "".
        let long = "é".repeat(100);
        let table = [len(1, b""), len(1, long.as_bytes()), len(1, b"\xff\xfe"), len(1, "så".as_bytes())].concat();
        assert_eq!(string_table(&table), Ok(vec!["", long.as_str(), "", "så"]));
    }

    /// Walks everything a block holds, as the reader does.
    fn walk(bytes: &[u8]) -> Result<usize> {
        let block = Block::parse(bytes)?;
        let mut n = 0;
        block.for_each_node(|node| {
            n += node.tags.resolve(&block).count() + 1;
            node.tags.resolve(&block).try_for_each(|t| t.map(|_| ()))
        })?;
        for way in block.ways() {
            let way = way?;
            n += way.refs().collect::<Result<Vec<_>>>()?.len()
                + way.tags.resolve(&block).collect::<Result<Vec<_>>>()?.len();
        }
        for relation in block.relations() {
            let relation = relation?;
            n += relation.members(&block).collect::<Result<Vec<_>>>()?.len()
                + relation.tags.resolve(&block).collect::<Result<Vec<_>>>()?.len();
        }
        Ok(n)
    }

    /// The inflated data blocks of the demo extract.
    fn demo_blocks() -> Vec<Vec<u8>> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo/helsinki-centre.osm.pbf");
        let file = std::fs::File::open(path).unwrap();
        let len = file.metadata().unwrap().len();
        let frames = crate::frame::index_frames(path, file, len).unwrap();
        let mut file = std::fs::File::open(path).unwrap();
        let mut buf = Vec::new();
        frames
            .iter()
            .filter(|f| f.kind == crate::frame::FrameKind::Data)
            .map(|f| {
                crate::frame::read_blob(path, &mut file, f, &mut buf).unwrap();
                inflate(&buf).unwrap()
            })
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = walk(&bytes);
            let _ = inflate(&bytes);
        }

        #[test]
        fn damaged_real_blocks_never_panic(
            which in 0usize..8,
            edits in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 1..16),
            cut in proptest::option::of(proptest::num::usize::ANY),
        ) {
            let blocks = demo_blocks();
            let mut bytes = blocks[which % blocks.len()].clone();
            for (at, value) in edits {
                let at = at % bytes.len();
                bytes[at] = value;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut % bytes.len());
            }
            let _ = walk(&bytes);
        }
    }

    #[test]
    fn every_element_of_the_demo_extract_matches_osmpbf() {
        use osmpbf::{BlobDecode, BlobReader, RelMemberType};
        type Element = (char, i64, i64, i64, Vec<(String, String)>, Vec<String>);
        let own = |s: &str| s.to_owned();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo/helsinki-centre.osm.pbf");
        let (mut ours, mut theirs): (Vec<Element>, Vec<Element>) = (Vec::new(), Vec::new());
        for bytes in demo_blocks() {
            let block = Block::parse(&bytes).unwrap();
            // Coordinates compared at 1e-7 degree: as integers of that unit.
            let e7 = |degrees: f64| (degrees * 1e7).round() as i64;
            block
                .for_each_node(|n| {
                    let tags =
                        n.tags.resolve(&block).map(|t| t.map(|(k, v)| (own(k), own(v)))).collect::<Result<_>>()?;
                    ours.push(('n', n.id, e7(n.lat()), e7(n.lon()), tags, vec![]));
                    Ok(())
                })
                .unwrap();
            for w in block.ways() {
                let w = w.unwrap();
                let tags =
                    w.tags.resolve(&block).map(|t| t.map(|(k, v)| (own(k), own(v)))).collect::<Result<_>>().unwrap();
                let refs = w.refs().map(|r| r.map(|r| r.to_string())).collect::<Result<_>>().unwrap();
                ours.push(('w', w.id, 0, 0, tags, refs));
            }
            for r in block.relations() {
                let r = r.unwrap();
                let tags =
                    r.tags.resolve(&block).map(|t| t.map(|(k, v)| (own(k), own(v)))).collect::<Result<_>>().unwrap();
                let members = r
                    .members(&block)
                    .map(|m| m.map(|m| format!("{:?} {} {}", m.kind, m.id, m.role)))
                    .collect::<Result<_>>()
                    .unwrap();
                ours.push(('r', r.id, 0, 0, tags, members));
            }
        }
        for blob in BlobReader::from_path(path).unwrap() {
            let BlobDecode::OsmData(block) = blob.unwrap().decode().unwrap() else { continue };
            let tags = |t: &mut dyn Iterator<Item = (&str, &str)>| t.map(|(k, v)| (own(k), own(v))).collect::<Vec<_>>();
            let e7 = |degrees: f64| (degrees * 1e7).round() as i64;
            for group in block.groups() {
                for n in group.dense_nodes() {
                    theirs.push(('n', n.id(), e7(n.lat()), e7(n.lon()), tags(&mut n.tags()), vec![]));
                }
                for n in group.nodes() {
                    theirs.push(('n', n.id(), e7(n.lat()), e7(n.lon()), tags(&mut n.tags()), vec![]));
                }
                for w in group.ways() {
                    theirs.push(('w', w.id(), 0, 0, tags(&mut w.tags()), w.refs().map(|r| r.to_string()).collect()));
                }
                for r in group.relations() {
                    let kind = |t: RelMemberType| match t {
                        RelMemberType::Node => "Node",
                        RelMemberType::Way => "Way",
                        RelMemberType::Relation => "Relation",
                    };
                    let members = r
                        .members()
                        .map(|m| {
                            let role = m.role().unwrap().to_owned();
                            format!("{} {} {role}", kind(m.member_type), m.member_id)
                        })
                        .collect();
                    theirs.push(('r', r.id(), 0, 0, tags(&mut r.tags()), members));
                }
            }
        }
        assert_eq!(ours.iter().filter(|e| e.0 == 'n').count(), 24_260);
        assert_eq!(ours.len(), 24_260 + 5_130 + 620);
        assert_eq!(ours, theirs);
    }
}
