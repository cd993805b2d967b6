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
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type};
use datafusion::error::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use trailhound_detect::series::{self, IqrZero};
use trailhound_geo::GeoIp;

use crate::format::plan_error;

/// Registers every function of this module in `registry`, with `geo` for `country`.
pub fn register(registry: &mut dyn FunctionRegistry, geo: Arc<GeoIp>) -> Result<()> {
    for udf in udfs(geo) {
        registry.register_udf(Arc::new(udf))?;
    }
    Ok(())
}

/// Every function of this module.
pub fn udfs(geo: Arc<GeoIp>) -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(CountryUdf::new(geo)),
        ScalarUDF::new_from_impl(IsIpUdf::new()),
        ScalarUDF::new_from_impl(SeriesOutliersUdf::new()),
        ScalarUDF::new_from_impl(SeriesStatsUdf::new()),
        ScalarUDF::new_from_impl(SlidingDcountUdf::new()),
    ]
}

/// The arguments as arrays of the batch's length.
fn arrays(args: &ScalarFunctionArgs) -> Result<Vec<ArrayRef>> {
    ColumnarValue::values_to_arrays(&args.args)
}

/// `country(source_ip) -> Utf8`.
struct CountryUdf {
    geo: Arc<GeoIp>,
    signature: Signature,
}

impl CountryUdf {
    fn new(geo: Arc<GeoIp>) -> Self {
        Self {
            geo,
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
        }
    }
}

impl std::fmt::Debug for CountryUdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountryUdf")
            .field("geo", &self.geo.description())
            .finish()
    }
}

// One GeoIP database per process: functions of the same name are equal.
impl PartialEq for CountryUdf {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for CountryUdf {}
impl Hash for CountryUdf {
    fn hash<H: Hasher>(&self, h: &mut H) {
        "country".hash(h);
    }
}

impl ScalarUDFImpl for CountryUdf {
    fn name(&self) -> &str {
        "country"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = arrays(&args)?;
        let ips = input[0].as_string::<i32>();
        // CloudTrail repeats few addresses many times: memoise per batch.
        let mut memo: HashMap<&str, Option<trailhound_model::Country>> = HashMap::new();
        let mut out = StringBuilder::with_capacity(ips.len(), ips.len() * 2);
        for ip in ips.iter() {
            let country = ip.and_then(|ip| *memo.entry(ip).or_insert_with(|| self.geo.country(ip)));
            out.append_option(country.as_ref().map(|c| c.as_str()));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `is_ip(text) -> Boolean`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct IsIpUdf {
    signature: Signature,
}

impl IsIpUdf {
    fn new() -> Self {
        Self {
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for IsIpUdf {
    fn name(&self) -> &str {
        "is_ip"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = arrays(&args)?;
        let out: BooleanArray = input[0]
            .as_string::<i32>()
            .iter()
            .map(|s| Some(s.is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok())))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

fn float_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}

/// The values of a list of numbers as `f64` (nulls as NaN: Kusto's missing values).
fn series_values(list: &dyn Array) -> Result<Vec<f64>> {
    let cast = datafusion::arrow::compute::cast(list, &DataType::Float64)?;
    Ok(cast
        .as_primitive::<Float64Type>()
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

/// `series_outliers(series, kind, ignore) -> List<Float64>`; only `kind = 'tukey'`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SeriesOutliersUdf {
    signature: Signature,
}

impl SeriesOutliersUdf {
    fn new() -> Self {
        Self {
            signature: Signature::any(3, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SeriesOutliersUdf {
    fn name(&self) -> &str {
        "series_outliers"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(float_list())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = arrays(&args)?;
        let lists = input[0].as_list::<i32>();
        let kinds = datafusion::arrow::compute::cast(&input[1], &DataType::Utf8)?;
        let ignores = datafusion::arrow::compute::cast(&input[2], &DataType::Float64)?;
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
            let scores = series::series_outliers_tukey(&xs, ignore, IqrZero::Ieee);
            out.values().append_slice(&scores);
            out.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `series_stats(series) -> List<Float64>`: `[min, min_idx, max, max_idx, avg, variance,
/// stdev]` (null for an empty or non-finite series). A list rather than a struct: DataFusion
/// 55's optimizer moves struct field accesses towards the scan, which fails once Ballista's
/// scheduler optimizes the already optimized plan again.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SeriesStatsUdf {
    signature: Signature,
}

impl SeriesStatsUdf {
    fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SeriesStatsUdf {
    fn name(&self) -> &str {
        "series_stats"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(float_list())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = arrays(&args)?;
        let lists = input[0].as_list::<i32>();
        let mut stats = Vec::with_capacity(lists.len());
        for row in 0..lists.len() {
            stats.push(if lists.is_null(row) {
                None
            } else {
                series::series_stats(&series_values(lists.value(row).as_ref())?)
            });
        }
        let mut out = ListBuilder::new(Float64Builder::new());
        for st in &stats {
            match st {
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
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `sliding_window_dcount_max(bins List<Int64>, values List<Utf8>, window Int64) -> Int64`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SlidingDcountUdf {
    signature: Signature,
}

impl SlidingDcountUdf {
    fn new() -> Self {
        Self {
            signature: Signature::any(3, Volatility::Immutable),
        }
    }
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

impl ScalarUDFImpl for SlidingDcountUdf {
    fn name(&self) -> &str {
        "sliding_window_dcount_max"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = arrays(&args)?;
        let bins = input[0].as_list::<i32>();
        let values = input[1].as_list::<i32>();
        let windows = datafusion::arrow::compute::cast(&input[2], &DataType::Int64)?;
        let windows = windows.as_primitive::<Int64Type>();
        let mut out = Vec::with_capacity(bins.len());
        for row in 0..bins.len() {
            if bins.is_null(row) || values.is_null(row) || windows.is_null(row) {
                out.push(Some(0));
                continue;
            }
            let b = datafusion::arrow::compute::cast(&bins.value(row), &DataType::Int64)?;
            let v = datafusion::arrow::compute::cast(&values.value(row), &DataType::Utf8)?;
            let (b, v) = (b.as_primitive::<Int64Type>(), v.as_string::<i32>());
            let items: Vec<(i64, &str)> = b
                .iter()
                .zip(v.iter())
                .filter_map(|(k, c)| Some((k?, c?)))
                .collect();
            out.push(Some(sliding_dcount_max(items, windows.value(row))));
        }
        Ok(ColumnarValue::Array(Arc::new(Int64Array::from(out))))
    }
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
