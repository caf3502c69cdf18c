//! The nested lists of foreach, until and parallel stages, one per unit (a
//! foreach item, an until pass, a parallel branch): [`Units`] makes a unit's
//! context (its bindings, its place), runs its list, words its errors as
//! upstream does for its kind, places its entry in the stage's output, and adds
//! up the units' statuses and errors.

use std::sync::{Arc, Mutex, PoisonError};

use wfc_plan::StagePlan;
use wfc_plan::pytext::repr_str;

use super::{Context, Done, Step, Stop};
use crate::eval::Bindings;
use crate::status::{self, ErrorName, Status};
use crate::value::{Map, Sharing, Str, Value};

/// A kind of unit, in upstream's words: what its errors call it, and their
/// names (which differ from kind to kind).
pub(super) struct Kind {
    noun: &'static str,
    /// The error's name when a nested stage failed.
    failed: ErrorName,
    /// The error's name when a nested stage was cancelled.
    cancelled: ErrorName,
}

pub(super) const ITEM: Kind = Kind {
    noun: "item",
    failed: ErrorName::StageError,
    cancelled: ErrorName::StageCancelError,
};

pub(super) const PASS: Kind = Kind {
    noun: "loop",
    failed: ErrorName::StageNestedError,
    cancelled: ErrorName::StageNestedCancelError,
};

pub(super) const BRANCH: Kind = Kind {
    noun: "branch",
    failed: ErrorName::StageError,
    cancelled: ErrorName::StageCancelError,
};

impl Kind {
    /// The error of a unit (`label` in the message) whose list stopped.
    fn error(&self, label: &Value, stop: &Stop) -> Value {
        let noun = self.noun;
        let (name, message) = match stop {
            Stop::CancelledBefore => (
                ErrorName::StageCancelError,
                format!(
                    "Cancel {noun}: {} before start nested process.",
                    label.py_repr()
                ),
            ),
            Stop::Failed(iden) => (
                self.failed,
                format!(
                    "Break {noun}: {} because nested stage: {}, failed.",
                    label.py_repr(),
                    repr_str(iden)
                ),
            ),
            Stop::Cancelled => (
                self.cancelled,
                format!(
                    "Cancel {noun}: {} after end nested process.",
                    label.py_repr()
                ),
            ),
            Stop::Runner(error) => return error.clone(),
        };
        status::error(name, message)
    }
}

/// What the units of one stage share (across the pool's threads).
pub(super) struct Units {
    kind: &'static Kind,
    /// The results of the stage's own list so far: what every unit sees of it.
    outer: Arc<Map>,
    /// Units whose results equal the last unit's share its map (foreach items
    /// and until passes: many units, often alike).
    sharing: Option<Sharing>,
    /// The units that did not succeed, by position, with their key and errors:
    /// the statuses and errors of the output come from here, without reading
    /// the entries (most units succeed: nothing is written here for them).
    unusual: Mutex<Vec<Unusual>>,
}

/// A unit that did not succeed: its position, status, key and errors.
type Unusual = (usize, Status, Str, Option<Value>);

/// One unit to run.
pub(super) struct Unit<'a> {
    /// What its errors call it (`item: 3`, `branch: 'a'`, `loop: 2`).
    pub label: &'a Value,
    pub bindings: Bindings,
    pub step: Step<'a>,
}

/// A unit that ran: its result, and the context it ran in (until reads its
/// condition there).
pub(super) struct Ran<C> {
    pub result: UnitResult,
    pub cx: C,
}

/// A unit's list as its entry keeps it.
pub(super) struct UnitResult {
    pub status: Status,
    /// The list's results (shared with the last unit's when equal).
    pub stages: Value,
    pub errors: Option<Value>,
}

impl UnitResult {
    /// Whether it failed or was cancelled (for fail-fast).
    pub(super) fn failed(&self) -> bool {
        matches!(self.status, Status::Failed | Status::Cancel)
    }
}

/// The units' entries, their status and their errors, added up.
pub(super) struct Folded {
    pub status: Status,
    /// The entries by key, in the units' order.
    pub entries: Map,
    /// The errors by key, in the units' order; none when no unit has any.
    pub errors: Option<Value>,
}

impl Units {
    /// Units of `kind` that see `outer`; `share` shares equal results.
    pub(super) fn new(kind: &'static Kind, outer: &Map, share: bool) -> Self {
        Units {
            kind,
            outer: Arc::new(outer.clone()),
            sharing: share.then(Sharing::default),
            unusual: Mutex::default(),
        }
    }

    /// Runs `unit`: `stages` in a context nested in `cx`.
    pub(super) fn run<C: Context>(&self, cx: &C, stages: &[StagePlan], unit: Unit<'_>) -> Ran<C> {
        let nested = cx.nested(&self.outer, unit.bindings, unit.step);
        let into = match &self.sharing {
            Some(sharing) => sharing.empty(),
            None => Map::with_capacity(stages.len()),
        };
        let list = nested.run_list(stages, into);
        let errors = list.stop.map(|stop| self.kind.error(unit.label, &stop));
        let stages = match &self.sharing {
            Some(sharing) => sharing.share(list.stages),
            None => Value::from(list.stages),
        };
        Ran {
            result: UnitResult {
                status: list.status,
                stages,
                errors,
            },
            cx: nested,
        }
    }

    /// Runs `unit` ([`Units::run`]) and places its entry under `key`
    /// ([`Units::place`]): what a unit run by [`Context::fan_out`] gives back.
    pub(super) fn run_placed<C: Context, const N: usize>(
        &self,
        cx: &C,
        stages: &[StagePlan],
        unit: Unit<'_>,
        (index, key): (usize, Str),
        fields: [(Str, Value); N],
    ) -> Done<(Str, Value)> {
        let ran = self.run(cx, stages, unit).result;
        Done {
            failed: ran.failed(),
            result: self.place(index, key, ran, fields),
        }
    }

    /// A unit's entry under `key` in the output: `{status, <fields>, stages,
    /// errors?}`, upstream's shape. Units that did not succeed are noted for
    /// [`Units::fold`].
    pub(super) fn place<const N: usize>(
        &self,
        index: usize,
        key: Str,
        result: UnitResult,
        fields: [(Str, Value); N],
    ) -> (Str, Value) {
        let UnitResult {
            status,
            stages,
            errors,
        } = result;
        if status != Status::Success {
            self.unusual
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((index, status, key.clone(), errors.clone()));
        }
        let mut entry = Map::with_capacity(N + 2 + usize::from(errors.is_some()));
        // The fields are never `status`, `stages` or `errors`.
        entry.push_new(const { Str::const_new("status") }, status.value());
        for (k, v) in fields {
            entry.push_new(k, v);
        }
        entry.push_new(const { Str::const_new("stages") }, stages);
        if let Some(errors) = errors {
            entry.push_new(const { Str::const_new("errors") }, errors);
        }
        (key, Value::from(entry))
    }

    /// The placed entries (`None` for units that never started: another
    /// unit's failure stopped them), their status and their errors. With
    /// `unique_keys`, no two keys are the same.
    pub(super) fn fold(&self, results: Vec<Option<(Str, Value)>>, unique_keys: bool) -> Folded {
        // Units that never started were stopped by another unit's failure;
        // those not noted succeeded.
        let never_started = results.iter().filter(|result| result.is_none()).count();
        let mut unusual =
            std::mem::take(&mut *self.unusual.lock().unwrap_or_else(PoisonError::into_inner));
        let succeeded = results.len() - never_started - unusual.len();
        let status = Status::aggregate(
            unusual
                .iter()
                .map(|(_, status, ..)| *status)
                .chain(std::iter::repeat_n(Status::Cancel, never_started))
                .chain(std::iter::repeat_n(Status::Success, succeeded)),
        );
        // Errors in the units' order.
        unusual.sort_unstable_by_key(|(at, ..)| *at);
        let mut errors = Map::default();
        for (_, _, key, error) in unusual {
            if let Some(error) = error {
                errors.insert(key, error);
            }
        }
        // Collected in the results' own vector (an entry is the size of a
        // result): `filter_map` is collected in place, `flatten` is not.
        #[allow(clippy::filter_map_identity)]
        let entries: Vec<(Str, Value)> = results.into_iter().filter_map(|result| result).collect();
        let entries = if unique_keys {
            Map::from_unique(entries)
        } else {
            entries.into_iter().collect()
        };
        Folded {
            status,
            entries,
            errors: (!errors.is_empty()).then_some(Value::from(errors)),
        }
    }
}
