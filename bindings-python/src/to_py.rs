//! Engine values to plain Python objects (dict, list, str, int, float, bool, None), through
//! their `Serialize` impls: the same shapes as `pythonize` (and, but for tuples, as
//! `json.loads` of their JSON), built with fewer objects.
//!
//! `status()` of 1,000 checks is about 40,000 objects when every dict key and every string
//! is a new `str`, and making them is most of the call. Here:
//! - field names and unit variants (`&'static str`) become one shared `str` each, kept for
//!   the life of the process, so a key costs a lookup and its hash is already computed;
//! - short strings seen recently in the same conversion (a service name, a kind, an error
//!   kind, a check's name in its own last result) are shared, through a small cache;
//! - timestamps and other `collect_str` values are formatted on the stack.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use serde::ser::{self, Serialize};

/// `value` as Python objects.
pub(crate) fn to_py<'py, T: Serialize + ?Sized>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let mut cache = Cache::take(py);
    let out = value.serialize(Ser { py, cache: &mut cache });
    cache.give_back();
    out.map_err(|e| e.0)
}

// ---------------------------------------------------------------------------------------
// The caches.

/// Hashes a `&'static str` by its address and length (names are compared by identity).
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type Names = HashMap<(usize, usize), Py<PyString>, BuildHasherDefault<AddrHasher>>;

/// The `str` of every field name and unit variant converted so far. A conversion takes the
/// map out (so the lock is taken twice per call, not per key) and puts it back; one running
/// meanwhile on another thread starts an empty map and drops it.
static NAMES: Mutex<Option<Names>> = Mutex::new(None);

/// Strings up to this long are looked up in the recent-strings cache.
const SHORT: usize = 40;
/// Slots of the recent-strings cache (a power of two).
const SLOTS: usize = 256;

struct Recent<'py> {
    len: usize,
    bytes: [u8; SHORT],
    obj: Bound<'py, PyString>,
}

struct Cache<'py> {
    py: Python<'py>,
    names: Names,
    /// Direct-mapped by a hash of the text: a hit shares the `str`, a miss replaces the slot.
    recent: Vec<Option<Recent<'py>>>,
}

impl<'py> Cache<'py> {
    fn take(py: Python<'py>) -> Cache<'py> {
        let names = NAMES
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_default();
        Cache {
            py,
            names,
            recent: Vec::new(),
        }
    }

    fn give_back(self) {
        *NAMES.lock().unwrap_or_else(|p| p.into_inner()) = Some(self.names);
    }

    fn name(&mut self, name: &'static str) -> Bound<'py, PyAny> {
        let py = self.py;
        self.names
            .entry((name.as_ptr() as usize, name.len()))
            .or_insert_with(|| PyString::intern(py, name).unbind())
            .bind(py)
            .clone()
            .into_any()
    }

    fn str(&mut self, s: &str) -> Bound<'py, PyAny> {
        let bytes = s.as_bytes();
        if bytes.len() > SHORT {
            return PyString::new(self.py, s).into_any();
        }
        if self.recent.is_empty() {
            self.recent.resize_with(SLOTS, || None);
        }
        // FNV-1a: fast on a few bytes, and good enough to spread them over the slots.
        let mut h: u32 = 0x811c_9dc5;
        for b in bytes {
            h = (h ^ u32::from(*b)).wrapping_mul(0x0100_0193);
        }
        let slot = &mut self.recent[(h as usize) & (SLOTS - 1)];
        if let Some(r) = slot {
            if r.len == bytes.len() && &r.bytes[..r.len] == bytes {
                return r.obj.clone().into_any();
            }
        }
        let obj = PyString::new(self.py, s);
        let mut copy = [0u8; SHORT];
        copy[..bytes.len()].copy_from_slice(bytes);
        *slot = Some(Recent {
            len: bytes.len(),
            bytes: copy,
            obj: obj.clone(),
        });
        obj.into_any()
    }
}

// ---------------------------------------------------------------------------------------
// The serializer.

/// A Python exception carried through serde.
#[derive(Debug)]
pub(crate) struct Error(PyErr);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(PyValueError::new_err(msg.to_string()))
    }
}

impl From<PyErr> for Error {
    fn from(e: PyErr) -> Self {
        Error(e)
    }
}

type Result<T> = std::result::Result<T, Error>;

struct Ser<'a, 'py> {
    py: Python<'py>,
    cache: &'a mut Cache<'py>,
}

impl<'a, 'py> Ser<'a, 'py> {
    fn any<T: IntoPyObjectExt<'py>>(self, v: T) -> Result<Bound<'py, PyAny>> {
        Ok(v.into_bound_py_any(self.py)?)
    }
}

/// Text up to 64 bytes on the stack (an RFC 3339 timestamp is 20 to 35).
struct StackText {
    buf: [u8; 64],
    len: usize,
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl<'a, 'py> ser::Serializer for Ser<'a, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;
    type SerializeSeq = Seq<'a, 'py>;
    type SerializeTuple = Seq<'a, 'py>;
    type SerializeTupleStruct = Seq<'a, 'py>;
    type SerializeTupleVariant = Seq<'a, 'py>;
    type SerializeMap = Map<'a, 'py>;
    type SerializeStruct = Map<'a, 'py>;
    type SerializeStructVariant = Map<'a, 'py>;

    fn serialize_bool(self, v: bool) -> Result<Self::Ok> {
        Ok(PyBool::new(self.py, v).to_owned().into_any())
    }

    fn serialize_i8(self, v: i8) -> Result<Self::Ok> {
        self.any(v)
    }

    fn serialize_i16(self, v: i16) -> Result<Self::Ok> {
        self.any(v)
    }

    fn serialize_i32(self, v: i32) -> Result<Self::Ok> {
        self.any(v)
    }

    fn serialize_i64(self, v: i64) -> Result<Self::Ok> {
        self.any(v)
    }

    fn serialize_i128(self, v: i128) -> Result<Self::Ok> {
        self.any(v)
    }

    fn serialize_u8(self, v: u8) -> Result<Self::Ok> {
        self.any(v)
    }

    fn serialize_u16(self, v: u16) -> Result<Self::Ok> {
        self.any(v)
    }

    fn serialize_u32(self, v: u32) -> Result<Self::Ok> {
        self.any(v)
    }

    fn serialize_u64(self, v: u64) -> Result<Self::Ok> {
        self.any(v)
    }

    fn serialize_u128(self, v: u128) -> Result<Self::Ok> {
        self.any(v)
    }

    fn serialize_f32(self, v: f32) -> Result<Self::Ok> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<Self::Ok> {
        Ok(PyFloat::new(self.py, v).into_any())
    }

    fn serialize_char(self, v: char) -> Result<Self::Ok> {
        self.serialize_str(v.encode_utf8(&mut [0u8; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<Self::Ok> {
        Ok(self.cache.str(v))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Self::Ok> {
        Ok(PyBytes::new(self.py, v).into_any())
    }

    fn serialize_none(self) -> Result<Self::Ok> {
        Ok(self.py.None().into_bound(self.py))
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<Self::Ok> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Self::Ok> {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Self::Ok> {
        self.serialize_none()
    }

    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<Self::Ok> {
        Ok(self.cache.name(variant))
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _name: &'static str, value: &T) -> Result<Self::Ok> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Self::Ok> {
        let (py, key) = (self.py, self.cache.name(variant));
        let dict = PyDict::new(py);
        dict.set_item(key, value.serialize(Ser { py, cache: self.cache })?)?;
        Ok(dict.into_any())
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Seq<'a, 'py>> {
        Ok(Seq::new(self, len.unwrap_or(0), None))
    }

    fn serialize_tuple(self, len: usize) -> Result<Seq<'a, 'py>> {
        Ok(Seq::new(self, len, None))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Seq<'a, 'py>> {
        Ok(Seq::new(self, len, None))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Seq<'a, 'py>> {
        Ok(Seq::new(self, len, Some(variant)))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Map<'a, 'py>> {
        Ok(Map::new(self, None))
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Map<'a, 'py>> {
        Ok(Map::new(self, None))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Map<'a, 'py>> {
        Ok(Map::new(self, Some(variant)))
    }

    fn collect_str<T: ?Sized + fmt::Display>(self, value: &T) -> Result<Self::Ok> {
        let mut text = StackText { buf: [0; 64], len: 0 };
        if write!(text, "{value}").is_ok() {
            // Only whole `&str`s were copied in, so the bytes are UTF-8.
            if let Ok(s) = std::str::from_utf8(&text.buf[..text.len]) {
                return self.serialize_str(s);
            }
        }
        self.serialize_str(&value.to_string())
    }
}

/// A list (or a tuple; `{variant: tuple}` for a tuple variant) being built.
pub(crate) struct Seq<'a, 'py> {
    py: Python<'py>,
    cache: &'a mut Cache<'py>,
    items: Vec<Bound<'py, PyAny>>,
    variant: Option<&'static str>,
}

impl<'a, 'py> Seq<'a, 'py> {
    fn new(s: Ser<'a, 'py>, len: usize, variant: Option<&'static str>) -> Self {
        Seq {
            py: s.py,
            cache: s.cache,
            items: Vec::with_capacity(len),
            variant,
        }
    }

    fn push<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        let item = value.serialize(Ser {
            py: self.py,
            cache: self.cache,
        })?;
        self.items.push(item);
        Ok(())
    }

    fn tuple(self) -> Result<Bound<'py, PyAny>> {
        let tuple = PyTuple::new(self.py, self.items)?.into_any();
        match self.variant {
            None => Ok(tuple),
            Some(variant) => {
                let dict = PyDict::new(self.py);
                dict.set_item(self.cache.name(variant), tuple)?;
                Ok(dict.into_any())
            }
        }
    }
}

impl<'py> ser::SerializeSeq for Seq<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }

    fn end(self) -> Result<Self::Ok> {
        Ok(PyList::new(self.py, self.items)?.into_any())
    }
}

impl<'py> ser::SerializeTuple for Seq<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }

    fn end(self) -> Result<Self::Ok> {
        self.tuple()
    }
}

impl<'py> ser::SerializeTupleStruct for Seq<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }

    fn end(self) -> Result<Self::Ok> {
        self.tuple()
    }
}

impl<'py> ser::SerializeTupleVariant for Seq<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }

    fn end(self) -> Result<Self::Ok> {
        self.tuple()
    }
}

/// A dict (`{variant: dict}` for a struct variant) being built.
pub(crate) struct Map<'a, 'py> {
    py: Python<'py>,
    cache: &'a mut Cache<'py>,
    dict: Bound<'py, PyDict>,
    key: Option<Bound<'py, PyAny>>,
    variant: Option<&'static str>,
}

impl<'a, 'py> Map<'a, 'py> {
    fn new(s: Ser<'a, 'py>, variant: Option<&'static str>) -> Self {
        Map {
            py: s.py,
            dict: PyDict::new(s.py),
            cache: s.cache,
            key: None,
            variant,
        }
    }

    fn field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        let key = self.cache.name(key);
        let value = value.serialize(Ser {
            py: self.py,
            cache: self.cache,
        })?;
        Ok(self.dict.set_item(key, value)?)
    }

    fn finish(self) -> Result<Bound<'py, PyAny>> {
        match self.variant {
            None => Ok(self.dict.into_any()),
            Some(variant) => {
                let outer = PyDict::new(self.py);
                outer.set_item(self.cache.name(variant), self.dict)?;
                Ok(outer.into_any())
            }
        }
    }
}

impl<'py> ser::SerializeMap for Map<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<()> {
        self.key = Some(key.serialize(Ser {
            py: self.py,
            cache: self.cache,
        })?);
        Ok(())
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        let key = self
            .key
            .take()
            .ok_or_else(|| <Error as ser::Error>::custom("a map value without its key"))?;
        let value = value.serialize(Ser {
            py: self.py,
            cache: self.cache,
        })?;
        Ok(self.dict.set_item(key, value)?)
    }

    fn end(self) -> Result<Self::Ok> {
        self.finish()
    }
}

impl<'py> ser::SerializeStruct for Map<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        self.field(key, value)
    }

    fn end(self) -> Result<Self::Ok> {
        self.finish()
    }
}

impl<'py> ser::SerializeStructVariant for Map<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        self.field(key, value)
    }

    fn end(self) -> Result<Self::Ok> {
        self.finish()
    }
}
