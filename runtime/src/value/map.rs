//! `Map`: the mapping of run-time values, in insertion order like a Python dict.
//!
//! Most maps of a run are small: a stage's result (`outputs`, `status`), its
//! outputs, a loop unit's entry (`status`, `item`, `stages`). Up to [`SMALL`]
//! entries a map is a vector, and a key is found by comparing it with each key (a
//! few short strings): no hash to compute, no table to allocate, about a third less
//! memory. A map that grows past that keeps its entries in a vector too, with a
//! hash table of their positions made the first time a key is looked up: a large
//! map that is built once and then only read in order (a loop's results, on their
//! way to the record) never hashes a key.

use std::fmt;
use std::hash::BuildHasher as _;
use std::sync::OnceLock;

use hashbrown::HashTable;
use serde::ser::SerializeMap as _;

use super::{Str, Value};

/// The most entries a map keeps in a plain vector.
pub const SMALL: usize = 8;

/// A mapping of names to values that keeps insertion order.
#[derive(Clone)]
pub struct Map(Repr);

#[derive(Clone)]
enum Repr {
    Small(Vec<(Str, Value)>),
    Large(Box<Large>),
}

impl Default for Map {
    fn default() -> Self {
        Map(Repr::Small(Vec::new()))
    }
}

/// A large map: its entries in order and, once a key has been looked up, the
/// entries' positions by the hash of their keys.
#[derive(Clone)]
struct Large {
    entries: Vec<(Str, Value)>,
    index: OnceLock<HashTable<usize>>,
    hasher: foldhash::fast::RandomState,
}

impl Large {
    /// A large map of `entries`, whose keys are all different.
    fn from_entries(entries: Vec<(Str, Value)>) -> Large {
        Large {
            entries,
            index: OnceLock::new(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    fn index(&self) -> &HashTable<usize> {
        self.index.get_or_init(|| {
            let mut index = HashTable::with_capacity(self.entries.len());
            for (at, (key, _)) in self.entries.iter().enumerate() {
                let hash = self.hash(key);
                index.insert_unique(hash, at, |&i| self.hash(&self.entries[i].0));
            }
            index
        })
    }

    fn position(&self, key: &str) -> Option<usize> {
        let hash = self.hash(key);
        self.index()
            .find(hash, |&i| self.entries[i].0 == key)
            .copied()
    }

    fn insert(&mut self, key: Str, value: Value) -> Option<Value> {
        if let Some(at) = self.position(&key) {
            return Some(std::mem::replace(&mut self.entries[at].1, value));
        }
        self.push_new(key, value);
        None
    }

    /// Adds an entry whose key is not in the map: the table, if made, learns
    /// its place.
    fn push_new(&mut self, key: Str, value: Value) {
        let at = self.entries.len();
        // Hashed only for a table already made.
        let hash = self.index.get().map(|_| self.hash(&key));
        self.entries.push((key, value));
        if let (Some(index), Some(hash)) = (self.index.get_mut(), hash) {
            let entries = &self.entries;
            let hasher = &self.hasher;
            index.insert_unique(hash, at, |&i| hasher.hash_one(entries[i].0.as_str()));
        }
    }

    fn shift_remove(&mut self, key: &str) -> Option<Value> {
        let at = self.position(key)?;
        let (_, value) = self.entries.remove(at);
        // The later entries moved: the table is made again when next needed.
        self.index = OnceLock::new();
        Some(value)
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.index = OnceLock::new();
    }
}

impl Map {
    /// An empty map with room for `n` entries.
    #[must_use]
    pub fn with_capacity(n: usize) -> Self {
        if n <= SMALL {
            Map(Repr::Small(Vec::with_capacity(n)))
        } else {
            Map(Repr::Large(Box::new(Large::from_entries(
                Vec::with_capacity(n),
            ))))
        }
    }

    /// The map of `entries`, whose keys are all different (checked in debug
    /// builds): no key is compared or hashed, the vector becomes the map's.
    pub(crate) fn from_unique(entries: Vec<(Str, Value)>) -> Self {
        debug_assert_eq!(
            entries
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<std::collections::HashSet<_>>()
                .len(),
            entries.len(),
            "the keys are not all different"
        );
        if entries.len() <= SMALL {
            Map(Repr::Small(entries))
        } else {
            Map(Repr::Large(Box::new(Large::from_entries(entries))))
        }
    }

    /// How many entries fit before the map allocates again.
    #[must_use]
    pub fn capacity(&self) -> usize {
        match &self.0 {
            Repr::Small(v) => v.capacity(),
            Repr::Large(m) => m.entries.capacity(),
        }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    fn entries(&self) -> &[(Str, Value)] {
        match &self.0 {
            Repr::Small(v) => v,
            Repr::Large(m) => &m.entries,
        }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        match &self.0 {
            Repr::Small(v) => v.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Repr::Large(m) => m.position(key).map(|at| &m.entries[at].1),
        }
    }

    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `value`; a key already there keeps its place. Returns the
    /// value it had.
    pub fn insert(&mut self, key: Str, value: Value) -> Option<Value> {
        match &mut self.0 {
            Repr::Small(entries) => {
                if let Some((_, old)) = entries.iter_mut().find(|(k, _)| *k == key) {
                    return Some(std::mem::replace(old, value));
                }
                if entries.len() < SMALL {
                    entries.push((key, value));
                    return None;
                }
                let mut grown = Box::new(Large::from_entries(std::mem::take(entries)));
                grown.push_new(key, value);
                self.0 = Repr::Large(grown);
                None
            }
            Repr::Large(m) => m.insert(key, value),
        }
    }

    /// Adds an entry whose key is not in the map yet (checked in debug builds):
    /// no search for it (a large map whose keys were never looked up does not
    /// even hash it).
    pub(crate) fn push_new(&mut self, key: Str, value: Value) {
        debug_assert!(!self.contains_key(&key), "`{key}` is already in the map");
        match &mut self.0 {
            Repr::Small(entries) if entries.len() < SMALL => entries.push((key, value)),
            Repr::Small(_) => {
                self.insert(key, value);
            }
            Repr::Large(m) => m.push_new(key, value),
        }
    }

    /// Removes `key`, keeping the order of the others.
    pub fn shift_remove(&mut self, key: &str) -> Option<Value> {
        match &mut self.0 {
            Repr::Small(v) => {
                let at = v.iter().position(|(k, _)| k == key)?;
                Some(v.remove(at).1)
            }
            Repr::Large(m) => m.shift_remove(key),
        }
    }

    pub fn clear(&mut self) {
        match &mut self.0 {
            Repr::Small(v) => v.clear(),
            Repr::Large(m) => m.clear(),
        }
    }

    #[must_use]
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries().iter())
    }

    pub fn iter_mut(&mut self) -> IterMut<'_> {
        IterMut(match &mut self.0 {
            Repr::Small(v) => v.iter_mut(),
            Repr::Large(m) => m.entries.iter_mut(),
        })
    }

    #[must_use]
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Str> + ExactSizeIterator {
        self.iter().map(|(k, _)| k)
    }

    #[must_use]
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.iter().map(|(_, v)| v)
    }

    #[must_use]
    pub fn into_keys(self) -> impl DoubleEndedIterator<Item = Str> + ExactSizeIterator {
        self.into_iter().map(|(k, _)| k)
    }

    #[must_use]
    pub fn into_values(self) -> impl DoubleEndedIterator<Item = Value> + ExactSizeIterator {
        self.into_iter().map(|(_, v)| v)
    }
}

/// The entries of a map, in order.
pub struct Iter<'a>(std::slice::Iter<'a, (Str, Value)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Str, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (k, v))
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// The entries of a map, in order, values changeable.
pub struct IterMut<'a>(std::slice::IterMut<'a, (Str, Value)>);

impl<'a> Iterator for IterMut<'a> {
    type Item = (&'a Str, &'a mut Value);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (&*k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for IterMut<'_> {}

/// The entries of a map, taken out in order.
pub struct IntoIter(std::vec::IntoIter<(Str, Value)>);

impl Iterator for IntoIter {
    type Item = (Str, Value);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for IntoIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back()
    }
}

impl ExactSizeIterator for IntoIter {}

impl IntoIterator for Map {
    type Item = (Str, Value);
    type IntoIter = IntoIter;

    fn into_iter(self) -> IntoIter {
        IntoIter(match self.0 {
            Repr::Small(v) => v.into_iter(),
            Repr::Large(m) => m.entries.into_iter(),
        })
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a Str, &'a Value);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Map {
    type Item = (&'a Str, &'a mut Value);
    type IntoIter = IterMut<'a>;

    fn into_iter(self) -> IterMut<'a> {
        self.iter_mut()
    }
}

impl Extend<(Str, Value)> for Map {
    fn extend<I: IntoIterator<Item = (Str, Value)>>(&mut self, entries: I) {
        for (k, v) in entries {
            self.insert(k, v);
        }
    }
}

impl FromIterator<(Str, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (Str, Value)>>(entries: I) -> Self {
        let entries = entries.into_iter();
        let mut map = Map::with_capacity(entries.size_hint().0);
        map.extend(entries);
        map
    }
}

/// `map["key"]`: the value of a key that must be there (as for `IndexMap`).
impl std::ops::Index<&str> for Map {
    type Output = Value;

    fn index(&self, key: &str) -> &Value {
        self.get(key)
            .unwrap_or_else(|| panic!("the map has no key {key:?}"))
    }
}

/// Equal when they hold the same keys with equal values, in any order (as
/// Python's dicts compare).
impl PartialEq for Map {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl serde::Serialize for Map {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self {
            out.serialize_entry(k, v)?;
        }
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(map: &Map) -> Vec<&str> {
        map.keys().map(Str::as_str).collect()
    }

    #[test]
    fn small_and_large_maps_behave_alike() {
        for n in [3, SMALL, SMALL + 1, 40] {
            let mut map = Map::default();
            for i in 0..n {
                assert_eq!(
                    map.insert(
                        format!("k{i}").into(),
                        Value::Int(i64::try_from(i).unwrap())
                    ),
                    None
                );
            }
            assert_eq!(map.len(), n);
            // Replacing keeps the place.
            assert_eq!(map.insert("k1".into(), Value::Int(-1)), Some(Value::Int(1)));
            assert_eq!(keys(&map)[1], "k1");
            assert_eq!(map.get("k1"), Some(&Value::Int(-1)));
            assert_eq!(map.get("missing"), None);
            assert!(map.contains_key("k0"));
            for (k, v) in &mut map {
                if k == "k0" {
                    *v = Value::Null;
                }
            }
            assert_eq!(map.iter().next(), Some((&Str::from("k0"), &Value::Null)));
            let last = format!("k{}", n - 1);
            // Removing keeps the order of the rest.
            assert_eq!(map.shift_remove("k1"), Some(Value::Int(-1)));
            assert_eq!(keys(&map)[..2], ["k0", "k2"]);
            assert_eq!(map.iter().len(), n - 1);
            assert_eq!(
                map.iter().next_back().map(|(k, _)| k.as_str()),
                Some(last.as_str())
            );
            assert_eq!(map.values().next(), Some(&Value::Null));
            let json = serde_json::to_string(&map).unwrap();
            let expected: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("\"{k}\":{}", serde_json::to_string(v).unwrap()))
                .collect();
            assert_eq!(json, format!("{{{}}}", expected.join(",")));
            let copied: Map = map.clone().into_iter().collect();
            assert_eq!(keys(&copied), keys(&map));
        }
    }

    #[test]
    fn a_large_map_finds_its_keys_however_it_was_built() {
        let key = |i: usize| Str::from(format!("k{i}"));
        let mut map = Map::with_capacity(100);
        for i in 0..50 {
            // No lookup yet: no table.
            map.push_new(key(i), Value::Int(i64::try_from(i).unwrap()));
        }
        assert_eq!(map.get("k49"), Some(&Value::Int(49)));
        // The table made by that lookup learns the next entries.
        for i in 50..100 {
            map.push_new(key(i), Value::Int(i64::try_from(i).unwrap()));
        }
        assert_eq!(map.get("k99"), Some(&Value::Int(99)));
        assert_eq!(map.insert(key(7), Value::Null), Some(Value::Int(7)));
        assert_eq!(map.len(), 100);
        // Removing shifts the later entries; they are still found.
        assert_eq!(map.shift_remove("k10"), Some(Value::Int(10)));
        assert_eq!(map.get("k10"), None);
        assert_eq!(map.get("k11"), Some(&Value::Int(11)));
        assert_eq!(map.get("k99"), Some(&Value::Int(99)));
        assert_eq!(map.iter().nth(10).map(|(k, _)| k.as_str()), Some("k11"));
        // A copy finds its keys, a cleared map none.
        let copy = map.clone();
        assert_eq!(copy.get("k50"), Some(&Value::Int(50)));
        assert_eq!(copy, map);
        map.clear();
        assert_eq!(map.get("k50"), None);
        // Made whole from entries with different keys, small or large.
        for n in [2, 30] {
            let built = Map::from_unique((0..n).map(|i| (key(i), Value::Null)).collect());
            assert_eq!(built.len(), n);
            assert_eq!(built.get(&format!("k{}", n - 1)), Some(&Value::Null));
            assert_eq!(built.keys().next().map(Str::as_str), Some("k0"));
        }
        map.insert(key(1), Value::Int(1));
        assert_eq!(map.get("k1"), Some(&Value::Int(1)));
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn equality_ignores_order() {
        let a: Map = [("x".into(), Value::Int(1)), ("y".into(), Value::Int(2))]
            .into_iter()
            .collect();
        let b: Map = [("y".into(), Value::Int(2)), ("x".into(), Value::Int(1))]
            .into_iter()
            .collect();
        assert_eq!(a, b);
        let c: Map = [("x".into(), Value::Int(1))].into_iter().collect();
        assert_ne!(a, c);
    }

    #[test]
    fn a_small_map_is_smaller() {
        // The map itself is a vector's size (a large map is boxed).
        assert_eq!(std::mem::size_of::<Map>(), 24);
    }
}
