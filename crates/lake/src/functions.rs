//! The SQL functions the rules need beyond DataFusion's own, registered by [`register`]:
//!
//! * `country(source_ip)`: ISO country code of a public address (GeoIP, embedded database by
//!   default), null otherwise — the embedded engine's enrichment;
//! * `is_ip(text)`: true for an IPv4 or IPv6 address (D2, D3: service names are not sources);
//! * `series_outliers(series, 'tukey', ignore)`: Kusto's Tukey outlier scores of a series;
//! * `series_stats(series)`: Kusto's `series_stats_dynamic` as the list `[min, min_idx, max,
//!   max_idx, avg, variance, stdev]`;
//! * `sliding_window_dcount_max(bins, values, window)`: the largest number of distinct values
//!   among items whose bins lie within `window` consecutive bins (Kusto's
//!   `sliding_window_counts` dcount, reduced to its maximum: D1's multi-country gate).
//!
//! The series maths are `trailhound_detect::series`, the same functions the embedded engine
//! runs, so both engines agree to the bit.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Builder, Int64Array, ListBuilder, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use trailhound_detect::series::{self, IqrZero};
use trailhound_geo::GeoIp;

use crate::format::plan_error;

/// Every function of this module.
pub fn udfs(geo: Arc<GeoIp>) -> Vec<ScalarUDF> {
    let utf8 = || Signature::exact(vec![DataType::Utf8], Volatility::Immutable);
    let any = |n| Signature::any(n, Volatility::Immutable);
    [
        Udf::new("country", utf8(), DataType::Utf8, move |a| country(&geo, a)),
        Udf::new("is_ip", utf8(), DataType::Boolean, is_ip),
        Udf::new("series_outliers", any(3), float_list(), series_outliers),
        Udf::new("series_stats", any(1), float_list(), series_stats),
        Udf::new(
            "sliding_window_dcount_max",
            any(3),
            DataType::Int64,
            sliding_dcount,
        ),
    ]
    .into_iter()
    .map(ScalarUDF::new_from_impl)
    .collect()
}

/// The body of a function: the arguments as arrays of the batch's length, to the result.
type Body = dyn Fn(&[ArrayRef]) -> Result<ArrayRef> + Send + Sync;

/// A row-wise scalar function: a name, a signature, a return type and a body. Functions are
/// equal when their names are (one definition per name in a process).
struct Udf {
    name: &'static str,
    signature: Signature,
    returns: DataType,
    body: Box<Body>,
}

impl Udf {
    fn new(
        name: &'static str,
        signature: Signature,
        returns: DataType,
        body: impl Fn(&[ArrayRef]) -> Result<ArrayRef> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name,
            signature,
            returns,
            body: Box::new(body),
        }
    }
}

impl std::fmt::Debug for Udf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Udf").field("name", &self.name).finish()
    }
}

impl PartialEq for Udf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for Udf {}
impl Hash for Udf {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.name.hash(h);
    }
}

impl ScalarUDFImpl for Udf {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.returns.clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        Ok(ColumnarValue::Array((self.body)(&arrays)?))
    }
}

/// `country(source_ip)`: memoised per batch (CloudTrail repeats few addresses many times).
fn country(geo: &GeoIp, args: &[ArrayRef]) -> Result<ArrayRef> {
    let ips = args[0].as_string::<i32>();
    let mut memo: HashMap<&str, Option<trailhound_model::Country>> = HashMap::new();
    let mut out = StringBuilder::with_capacity(ips.len(), ips.len() * 2);
    for ip in ips.iter() {
        let country = ip.and_then(|ip| *memo.entry(ip).or_insert_with(|| geo.country(ip)));
        out.append_option(country.as_ref().map(|c| c.as_str()));
    }
    Ok(Arc::new(out.finish()))
}

/// `is_ip(text)`, as the embedded D2 and D3 decide it.
fn is_ip(args: &[ArrayRef]) -> Result<ArrayRef> {
    let out: BooleanArray = args[0]
        .as_string::<i32>()
        .iter()
        .map(|s| Some(s.is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok())))
        .collect();
    Ok(Arc::new(out))
}

fn float_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}

/// The values of a list of numbers as `f64` (nulls as NaN: Kusto's missing values).
fn series_values(list: &dyn Array) -> Result<Vec<f64>> {
    let cast = cast(list, &DataType::Float64)?;
    Ok(cast
        .as_primitive::<Float64Type>()
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

/// `series_outliers(series, kind, ignore)`; only `kind = 'tukey'`.
fn series_outliers(args: &[ArrayRef]) -> Result<ArrayRef> {
    let lists = args[0].as_list::<i32>();
    let kinds = cast(&args[1], &DataType::Utf8)?;
    let ignores = cast(&args[2], &DataType::Float64)?;
    let (kinds, ignores) = (
        kinds.as_string::<i32>(),
        ignores.as_primitive::<Float64Type>(),
    );
    let mut out = ListBuilder::new(Float64Builder::new());
    for row in 0..lists.len() {
        if lists.is_null(row) {
            out.append_null();
            continue;
        }
        if kinds.is_null(row) || kinds.value(row) != "tukey" {
            return Err(plan_error("series_outliers supports only kind 'tukey'"));
        }
        let ignore = (!ignores.is_null(row)).then(|| ignores.value(row));
        let xs = series_values(lists.value(row).as_ref())?;
        out.values()
            .append_slice(&series::series_outliers_tukey(&xs, ignore, IqrZero::Ieee));
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

/// `series_stats(series)`: `[min, min_idx, max, max_idx, avg, variance, stdev]`, null for an
/// empty or non-finite series. A list rather than a struct: DataFusion 55's optimizer moves
/// struct field accesses towards the scan, which fails once Ballista's scheduler optimizes the
/// already optimized plan again.
fn series_stats(args: &[ArrayRef]) -> Result<ArrayRef> {
    let lists = args[0].as_list::<i32>();
    let mut out = ListBuilder::new(Float64Builder::new());
    for row in 0..lists.len() {
        let stats = if lists.is_null(row) {
            None
        } else {
            series::series_stats(&series_values(lists.value(row).as_ref())?)
        };
        match stats {
            Some(s) => {
                out.values().append_slice(&[
                    s.min,
                    s.min_idx as f64,
                    s.max,
                    s.max_idx as f64,
                    s.avg,
                    s.variance,
                    s.stdev,
                ]);
                out.append(true);
            }
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// The largest number of distinct values among `items` (bin, value) whose bins lie within `w`
/// consecutive bins (`|k1 − k2| < w`).
pub fn sliding_dcount_max(mut items: Vec<(i64, &str)>, w: i64) -> i64 {
    items.sort_unstable();
    let mut counts: HashMap<&str, u32> = HashMap::new();
    let (mut lo, mut best) = (0usize, 0i64);
    for hi in 0..items.len() {
        let (k, v) = items[hi];
        *counts.entry(v).or_default() += 1;
        while items[lo].0 <= k - w {
            let old = items[lo].1;
            if let Some(n) = counts.get_mut(old) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(old);
                }
            }
            lo += 1;
        }
        best = best.max(counts.len() as i64);
    }
    best
}

/// `sliding_window_dcount_max(bins, values, window)` row by row.
fn sliding_dcount(args: &[ArrayRef]) -> Result<ArrayRef> {
    let bins = args[0].as_list::<i32>();
    let values = args[1].as_list::<i32>();
    let windows = cast(&args[2], &DataType::Int64)?;
    let windows = windows.as_primitive::<Int64Type>();
    let mut out = Vec::with_capacity(bins.len());
    for row in 0..bins.len() {
        if bins.is_null(row) || values.is_null(row) || windows.is_null(row) {
            out.push(Some(0));
            continue;
        }
        let b = cast(&bins.value(row), &DataType::Int64)?;
        let v = cast(&values.value(row), &DataType::Utf8)?;
        let (b, v) = (b.as_primitive::<Int64Type>(), v.as_string::<i32>());
        let items: Vec<(i64, &str)> = b
            .iter()
            .zip(v.iter())
            .filter_map(|(k, c)| Some((k?, c?)))
            .collect();
        out.push(Some(sliding_dcount_max(items, windows.value(row))));
    }
    Ok(Arc::new(Int64Array::from(out)))
}

#[cfg(test)]
mod tests {
    use super::sliding_dcount_max;

    #[test]
    fn sliding_dcount_counts_distinct_values_within_the_window() {
        // Window of 8 bins: bins 0 and 7 are within it, 0 and 8 are not.
        assert_eq!(sliding_dcount_max(vec![(0, "US"), (7, "DE")], 8), 2);
        assert_eq!(sliding_dcount_max(vec![(0, "US"), (8, "DE")], 8), 1);
        assert_eq!(
            sliding_dcount_max(vec![(8, "DE"), (0, "US"), (0, "US")], 8),
            1
        );
        assert_eq!(
            sliding_dcount_max(vec![(3, "US"), (3, "DE"), (4, "FR")], 1),
            2
        );
        assert_eq!(sliding_dcount_max(vec![], 8), 0);
    }
}
