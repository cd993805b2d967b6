//! Reading query results: typed columns of collected batches, whatever Arrow string or list
//! encoding DataFusion chose (`Utf8` or `Utf8View`, `List` of either).

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type};
use datafusion::error::Result;
use datafusion::prelude::DataFrame;
use std::sync::Arc;

use crate::format::plan_error;

/// The rows of a query, column by column.
pub struct Rows {
    batches: Vec<RecordBatch>,
}

impl Rows {
    /// Runs `df` and keeps its result.
    pub async fn collect(df: DataFrame) -> Result<Self> {
        Ok(Self {
            batches: df.collect().await?,
        })
    }

    fn column(&self, name: &str, to: &DataType) -> Result<Vec<ArrayRef>> {
        self.batches
            .iter()
            .map(|b| {
                let c = b
                    .column_by_name(name)
                    .ok_or_else(|| plan_error(format!("result has no column {name}")))?;
                Ok(cast(c, to)?)
            })
            .collect()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// True when there is no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A text column (null as the empty string, as the embedded engine's absent fields).
    pub fn text(&self, name: &str) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(self.len());
        for a in self.column(name, &DataType::Utf8)? {
            out.extend(
                a.as_string::<i32>()
                    .iter()
                    .map(|s| s.unwrap_or("").to_owned()),
            );
        }
        Ok(out)
    }

    /// A text column, nulls kept.
    pub fn text_opt(&self, name: &str) -> Result<Vec<Option<String>>> {
        let mut out = Vec::with_capacity(self.len());
        for a in self.column(name, &DataType::Utf8)? {
            out.extend(a.as_string::<i32>().iter().map(|s| s.map(str::to_owned)));
        }
        Ok(out)
    }

    /// An integer column (timestamps as nanoseconds); null as 0.
    pub fn int(&self, name: &str) -> Result<Vec<i64>> {
        let mut out = Vec::with_capacity(self.len());
        for a in self.column(name, &DataType::Int64)? {
            out.extend(a.as_primitive::<Int64Type>().iter().map(|v| v.unwrap_or(0)));
        }
        Ok(out)
    }

    /// A real column; null as NaN.
    pub fn real(&self, name: &str) -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(self.len());
        for a in self.column(name, &DataType::Float64)? {
            out.extend(
                a.as_primitive::<Float64Type>()
                    .iter()
                    .map(|v| v.unwrap_or(f64::NAN)),
            );
        }
        Ok(out)
    }

    /// A list-of-text column, in list order, nulls (of lists or items) dropped.
    pub fn text_lists(&self, name: &str) -> Result<Vec<Vec<String>>> {
        let to = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
        let mut out = Vec::with_capacity(self.len());
        for a in self.column(name, &to)? {
            let lists = a.as_list::<i32>();
            for row in 0..lists.len() {
                if lists.is_null(row) {
                    out.push(Vec::new());
                    continue;
                }
                let items = lists.value(row);
                out.push(
                    items
                        .as_string::<i32>()
                        .iter()
                        .flatten()
                        .map(str::to_owned)
                        .collect(),
                );
            }
        }
        Ok(out)
    }
}

/// `values` without empty strings, sorted, distinct, at most `cap` of them.
pub fn distinct_sorted(mut values: Vec<String>, cap: usize) -> Vec<String> {
    values.retain(|v| !v.is_empty());
    values.sort();
    values.dedup();
    values.truncate(cap);
    values
}

/// An SQL string literal.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// An SQL list of string literals, for `IN (…)`.
pub fn quote_list<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| quote(s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}
