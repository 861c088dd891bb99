//! A native line chart (DrawingML chart part) and the workbook PowerPoint opens when someone edits
//! its data: the categories down column A, a series a column from B, as PowerPoint lays them out.

use std::fmt::Write as _;

use anyhow::Result;

use super::{LineChart, NS_A, NS_R, esc};

const NS_C: &str = "http://schemas.openxmlformats.org/drawingml/2006/chart";

/// The sheet column of the `i`th series (`B` for the first).
fn column(i: usize) -> String {
    // 26 series are far more than a deck's chart shows; beyond Z the letters would repeat.
    char::from(b'B' + (i.min(24)) as u8).to_string()
}

fn string_cache(values: &[&str]) -> String {
    let mut xml = format!(r#"<c:strCache><c:ptCount val="{}"/>"#, values.len());
    for (i, v) in values.iter().enumerate() {
        let _ = write!(xml, r#"<c:pt idx="{i}"><c:v>{}</c:v></c:pt>"#, esc(v));
    }
    xml.push_str("</c:strCache>");
    xml
}

pub fn xml(chart: &LineChart) -> String {
    let rows = chart.categories.len();
    let categories: Vec<&str> = chart.categories.iter().map(String::as_str).collect();
    let format = esc(&chart.number_format);
    let mut series = String::new();
    for (i, s) in chart.series.iter().enumerate() {
        let col = column(i);
        let mut points =
            format!(r#"<c:numCache><c:formatCode>{format}</c:formatCode><c:ptCount val="{rows}"/>"#);
        for (at, v) in s.values.iter().enumerate() {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                let _ = write!(points, r#"<c:pt idx="{at}"><c:v>{v}</c:v></c:pt>"#);
            }
        }
        points.push_str("</c:numCache>");
        let color = s.color;
        let _ = write!(
            series,
            r#"<c:ser><c:idx val="{i}"/><c:order val="{i}"/><c:tx><c:strRef><c:f>Sheet1!${col}$1</c:f>{}</c:strRef></c:tx><c:spPr><a:ln w="28575" cap="rnd"><a:solidFill><a:srgbClr val="{color}"/></a:solidFill><a:round/></a:ln></c:spPr><c:marker><c:symbol val="circle"/><c:size val="6"/><c:spPr><a:solidFill><a:srgbClr val="{color}"/></a:solidFill><a:ln><a:noFill/></a:ln></c:spPr></c:marker><c:cat><c:strRef><c:f>Sheet1!$A$2:$A${}</c:f>{}</c:strRef></c:cat><c:val><c:numRef><c:f>Sheet1!${col}$2:${col}${}</c:f>{points}</c:numRef></c:val><c:smooth val="0"/></c:ser>"#,
            string_cache(&[&s.name]),
            rows + 1,
            string_cache(&categories),
            rows + 1,
        );
    }
    let bound =
        |name: &str, v: Option<f64>| v.map_or_else(String::new, |v| format!(r#"<c:{name} val="{v}"/>"#));
    let scaling = format!(
        r#"<c:scaling><c:orientation val="minMax"/>{}{}</c:scaling>"#,
        bound("max", chart.max),
        bound("min", chart.min)
    );
    let text = |size: u32| {
        format!(
            r#"<c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="{size}"><a:solidFill><a:srgbClr val="404040"/></a:solidFill></a:defRPr></a:pPr><a:endParaRPr lang="en-US"/></a:p></c:txPr>"#
        )
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<c:chartSpace xmlns:c="{NS_C}" xmlns:a="{NS_A}" xmlns:r="{NS_R}"><c:date1904 val="0"/><c:roundedCorners val="0"/><c:chart><c:title><c:tx><c:rich><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="1400" b="1"/></a:pPr><a:r><a:rPr lang="en-US" sz="1400" b="1"/><a:t>{}</a:t></a:r></a:p></c:rich></c:tx><c:overlay val="0"/></c:title><c:autoTitleDeleted val="0"/><c:plotArea><c:layout/><c:lineChart><c:grouping val="standard"/><c:varyColors val="0"/>{series}<c:marker val="1"/><c:axId val="500000001"/><c:axId val="500000002"/></c:lineChart><c:catAx><c:axId val="500000001"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/><c:axPos val="b"/><c:numFmt formatCode="General" sourceLinked="0"/><c:majorTickMark val="out"/><c:minorTickMark val="none"/><c:tickLblPos val="low"/>{}<c:crossAx val="500000002"/><c:crosses val="autoZero"/><c:auto val="1"/><c:lblAlgn val="ctr"/><c:lblOffset val="100"/><c:noMultiLvlLbl val="0"/></c:catAx><c:valAx><c:axId val="500000002"/>{scaling}<c:delete val="0"/><c:axPos val="l"/><c:majorGridlines><c:spPr><a:ln w="6350"><a:solidFill><a:srgbClr val="D9D9D9"/></a:solidFill></a:ln></c:spPr></c:majorGridlines><c:numFmt formatCode="{format}" sourceLinked="0"/><c:majorTickMark val="out"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>{}<c:crossAx val="500000001"/><c:crosses val="autoZero"/><c:crossBetween val="between"/></c:valAx></c:plotArea><c:legend><c:legendPos val="b"/><c:overlay val="0"/>{}</c:legend><c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart><c:externalData r:id="rId1"><c:autoUpdate val="0"/></c:externalData></c:chartSpace>"#,
        esc(&chart.title),
        text(1100),
        text(1100),
        text(1200),
    )
}

/// The chart's data as the workbook PowerPoint edits, dated `created` so it is the same bytes
/// each time.
pub fn workbook(chart: &LineChart, created: chrono::NaiveDateTime) -> Result<Vec<u8>> {
    use chrono::{Datelike, Timelike};
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
    let mut book = Workbook::new();
    let when = ExcelDateTime::from_ymd(created.year() as u16, created.month() as u8, created.day() as u8)?
        .and_hms(created.hour() as u16, created.minute() as u8, created.second())?;
    book.set_properties(
        &DocProperties::new()
            .set_author("govpack")
            .set_creation_datetime(&when),
    );
    let sheet = book.add_worksheet().set_name("Sheet1")?;
    let format = Format::new().set_num_format(&chart.number_format);
    for (i, s) in chart.series.iter().enumerate() {
        let col = (i + 1) as u16;
        sheet.write_string(0, col, &s.name)?;
        for (row, v) in s.values.iter().enumerate() {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                sheet.write_number_with_format(row as u32 + 1, col, v, &format)?;
            }
        }
    }
    for (row, category) in chart.categories.iter().enumerate() {
        sheet.write_string(row as u32 + 1, 0, category)?;
    }
    Ok(book.save_to_buffer()?)
}
