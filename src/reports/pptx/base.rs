//! The package a deck's slides are added to: its parts, content types and relationships, the
//! slide size, and the layouts the slides use. The built-in base is assembled from the XML files
//! beside this one; an MSP's template is read from its `.pptx` with its own slides (and their
//! notes, charts and embedded data) taken out, so nothing of an old deck survives into a client's.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

use anyhow::{Context, Result, anyhow, bail};
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

use super::{NS_P, NS_R, Properties, REL, Rels, esc};

const CT_RELS: &str = "application/vnd.openxmlformats-package.relationships+xml";
const CT_PRESENTATION: &str =
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml";
const CT_MASTER: &str = "application/vnd.openxmlformats-officedocument.presentationml.slideMaster+xml";
const CT_LAYOUT: &str = "application/vnd.openxmlformats-officedocument.presentationml.slideLayout+xml";
const CT_THEME: &str = "application/vnd.openxmlformats-officedocument.theme+xml";
const CT_NOTES_MASTER: &str = "application/vnd.openxmlformats-officedocument.presentationml.notesMaster+xml";
const CT_CORE: &str = "application/vnd.openxmlformats-package.core-properties+xml";
const CT_APP: &str = "application/vnd.openxmlformats-officedocument.extended-properties+xml";
const PACKAGE_REL: &str = "http://schemas.openxmlformats.org/package/2006/relationships/metadata";

/// A base package: parts by name (no leading `/`), and the content types of its parts.
pub struct Base {
    parts: BTreeMap<String, Vec<u8>>,
    defaults: BTreeMap<String, String>,
    overrides: BTreeMap<String, String>,
    presentation: String,
    /// The slide size in EMU.
    pub(super) slide_size: (u64, u64),
    pub(super) title_layout: String,
    pub(super) content_layout: String,
    notes_master: Option<String>,
    /// Where the content layout's title ends, in EMU from the slide's top: a template's title may
    /// reach lower than the built-in one's, and the content goes below it. `None`: the built-in.
    pub(super) title_bottom: Option<u64>,
}

/// The relationships part of a part: `ppt/presentation.xml` -> `ppt/_rels/presentation.xml.rels`.
fn rels_of(part: &str) -> String {
    match part.rsplit_once('/') {
        Some((dir, name)) => format!("{dir}/_rels/{name}.rels"),
        None => format!("_rels/{part}.rels"),
    }
}

/// A relationship's target as a part name, from the folder of the part that holds it.
fn resolve(from_dir: &str, target: &str) -> String {
    if let Some(absolute) = target.strip_prefix('/') {
        return absolute.to_string();
    }
    let mut path: Vec<&str> = from_dir.split('/').filter(|s| !s.is_empty()).collect();
    for piece in target.split('/') {
        match piece {
            ".." => {
                path.pop();
            }
            "." | "" => {}
            p => path.push(p),
        }
    }
    path.join("/")
}

fn dir_of(part: &str) -> &str {
    part.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// A relationship: id, type, target, external.
type Relationship = (String, String, String, bool);

fn read_rels(xml: &[u8]) -> Result<Vec<Relationship>> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut found = Vec::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf)? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Relationship" => {
                let attr = |name: &str| -> Result<String> { Ok(attribute(&e, name)?.unwrap_or_default()) };
                found.push((
                    attr("Id")?,
                    attr("Type")?,
                    attr("Target")?,
                    attr("TargetMode")? == "External",
                ));
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(found)
}

/// The value of an attribute of an element (`None` when it has none).
fn attribute(e: &BytesStart, name: &str) -> Result<Option<String>> {
    Ok(e.try_get_attribute(name)?
        .map(|a| {
            a.normalized_value(XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
        })
        .transpose()?)
}

/// The root element of an XML part and its attributes.
fn root_attribute(xml: &[u8], name: &str) -> Result<Option<String>> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf)? {
            Event::Start(e) | Event::Empty(e) => return attribute(&e, name),
            Event::Eof => return Ok(None),
            _ => {}
        }
        buf.clear();
    }
}

/// Where the title placeholder of a layout or master ends (its offset plus its height, in EMU),
/// when the part places it.
fn title_bottom(xml: &[u8]) -> Result<Option<u64>> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    // Within a shape: whether it is the title, and the first offset and extent of its own frame.
    let (mut depth, mut is_title, mut y, mut height) = (0usize, false, None, None);
    loop {
        match reader.read_event_into(&mut buf)? {
            Event::Start(e) if e.local_name().as_ref() == "sp" => {
                depth += 1;
                (is_title, y, height) = (false, None, None);
            }
            Event::End(e) if e.local_name().as_ref() == "sp" => {
                depth = depth.saturating_sub(1);
                if let (true, Some(y), Some(h)) = (is_title, y, height) {
                    return Ok(Some(y + h));
                }
            }
            Event::Start(e) | Event::Empty(e) if depth > 0 => {
                let number = |name: &str| -> Result<Option<u64>> {
                    Ok(attribute(&e, name)?.and_then(|v| v.parse::<u64>().ok()))
                };
                match e.local_name().as_ref() {
                    "ph" => {
                        is_title |= matches!(attribute(&e, "type")?.as_deref(), Some("title" | "ctrTitle"));
                    }
                    "off" if y.is_none() => y = number("y")?,
                    "ext" if height.is_none() => height = number("cy")?,
                    _ => {}
                }
            }
            Event::Eof => return Ok(None),
            _ => {}
        }
        buf.clear();
    }
}

/// The first element of a local name in an XML part, as (attribute -> value).
fn first_element(xml: &[u8], local: &str) -> Result<Option<BTreeMap<String, String>>> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf)? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == local => {
                let mut attributes = BTreeMap::new();
                for a in e.attributes() {
                    let a = a?;
                    attributes.insert(
                        a.key.local_name().as_ref().to_string(),
                        a.normalized_value(XmlVersion::Implicit1_0)?.into_owned(),
                    );
                }
                return Ok(Some(attributes));
            }
            Event::Eof => return Ok(None),
            _ => {}
        }
        buf.clear();
    }
}

impl Base {
    /// The clean built-in theme: a 16:9 deck, a title slide and a title-only layout.
    pub fn builtin() -> Base {
        let mut base = Base {
            parts: BTreeMap::new(),
            defaults: BTreeMap::new(),
            overrides: BTreeMap::new(),
            presentation: "ppt/presentation.xml".into(),
            slide_size: (12_192_000, 6_858_000),
            title_layout: "ppt/slideLayouts/slideLayout1.xml".into(),
            content_layout: "ppt/slideLayouts/slideLayout2.xml".into(),
            notes_master: None,
            title_bottom: None,
        };
        base.put_default("rels", CT_RELS);
        base.put_default("xml", "application/xml");
        let mut root = Rels::default();
        root.add(&format!("{REL}/officeDocument"), "ppt/presentation.xml");
        base.put_raw("_rels/.rels", root.xml().into_bytes());
        base.put(
            "ppt/presentation.xml",
            CT_PRESENTATION,
            include_bytes!("presentation.xml").to_vec(),
        );
        let mut rels = Rels::default();
        rels.add(&format!("{REL}/slideMaster"), "slideMasters/slideMaster1.xml");
        rels.add(&format!("{REL}/theme"), "theme/theme1.xml");
        base.put_raw("ppt/_rels/presentation.xml.rels", rels.xml().into_bytes());
        base.put(
            "ppt/slideMasters/slideMaster1.xml",
            CT_MASTER,
            include_bytes!("slide_master.xml").to_vec(),
        );
        let mut rels = Rels::default();
        rels.add(&format!("{REL}/slideLayout"), "../slideLayouts/slideLayout1.xml");
        rels.add(&format!("{REL}/slideLayout"), "../slideLayouts/slideLayout2.xml");
        rels.add(&format!("{REL}/theme"), "../theme/theme1.xml");
        base.put_raw(
            "ppt/slideMasters/_rels/slideMaster1.xml.rels",
            rels.xml().into_bytes(),
        );
        for (n, xml) in [
            (1, include_bytes!("layout_title.xml").as_slice()),
            (2, include_bytes!("layout_title_only.xml").as_slice()),
        ] {
            base.put(
                &format!("ppt/slideLayouts/slideLayout{n}.xml"),
                CT_LAYOUT,
                xml.to_vec(),
            );
            let mut rels = Rels::default();
            rels.add(&format!("{REL}/slideMaster"), "../slideMasters/slideMaster1.xml");
            base.put_raw(
                &format!("ppt/slideLayouts/_rels/slideLayout{n}.xml.rels"),
                rels.xml().into_bytes(),
            );
        }
        base.put(
            "ppt/theme/theme1.xml",
            CT_THEME,
            include_bytes!("theme.xml").to_vec(),
        );
        base
    }

    /// An MSP's template (`.pptx` or `.potx` bytes): its masters, layouts and theme, without
    /// its slides. `origin` names the file in messages.
    pub fn from_template(bytes: &[u8], origin: &str) -> Result<Base> {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .with_context(|| format!("{origin} is not a PowerPoint file (not a zip package)"))?;
        let mut parts = BTreeMap::new();
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i)?;
            if entry.is_dir() {
                continue;
            }
            let name = entry.name()?.trim_start_matches('/').to_string();
            let mut data = Vec::new();
            entry
                .read_to_end(&mut data)
                .with_context(|| format!("cannot read {name} in {origin}"))?;
            parts.insert(name, data);
        }
        let types = parts
            .remove("[Content_Types].xml")
            .ok_or_else(|| anyhow!("{origin} has no [Content_Types].xml: not a PowerPoint file"))?;
        let mut base = Base {
            parts,
            defaults: BTreeMap::new(),
            overrides: BTreeMap::new(),
            presentation: String::new(),
            slide_size: (0, 0),
            title_layout: String::new(),
            content_layout: String::new(),
            notes_master: None,
            title_bottom: None,
        };
        base.read_content_types(&types)
            .with_context(|| format!("cannot read the content types of {origin}"))?;
        let root = read_rels(base.parts.get("_rels/.rels").map_or(&[][..], Vec::as_slice))?;
        base.presentation = root
            .iter()
            .find(|r| r.1.ends_with("/officeDocument"))
            .map(|r| resolve("", &r.2))
            .filter(|p| base.parts.contains_key(p))
            .ok_or_else(|| anyhow!("{origin} has no presentation part: not a PowerPoint file"))?;
        let presentation = &base.parts[&base.presentation];
        let size = first_element(presentation, "sldSz")?.unwrap_or_default();
        let dimension = |name: &str| size.get(name).and_then(|v| v.parse::<u64>().ok());
        base.slide_size = (
            dimension("cx").unwrap_or(12_192_000),
            dimension("cy").unwrap_or(6_858_000),
        );

        // The template's own slides go, with everything only a slide uses; its notes master stays.
        let leaving: Vec<String> = base
            .parts
            .keys()
            .filter(|p| {
                [
                    "ppt/slides/",
                    "ppt/notesSlides/",
                    "ppt/charts/",
                    "ppt/embeddings/",
                    "ppt/comments/",
                ]
                .iter()
                .any(|dir| p.starts_with(dir))
                    || p.starts_with("docProps/")
            })
            .cloned()
            .collect();
        for part in leaving {
            base.parts.remove(&part);
            base.overrides.remove(&part);
        }
        let presentation_rels = read_rels(&base.parts[&rels_of(&base.presentation)])?;
        let from = dir_of(&base.presentation).to_string();
        base.notes_master = presentation_rels
            .iter()
            .find(|r| r.1.ends_with("/notesMaster"))
            .map(|r| resolve(&from, &r.2))
            .filter(|p| base.parts.contains_key(p));

        // The layouts: the title slide's, and a title-only one (else a title-and-content one).
        let mut layouts: Vec<(String, String)> = Vec::new();
        for (part, kind) in &base.overrides {
            if kind == CT_LAYOUT
                && let Some(xml) = base.parts.get(part)
            {
                let kind = root_attribute(xml, "type")?.unwrap_or_else(|| "cust".into());
                layouts.push((part.clone(), kind));
            }
        }
        let of_kind = |kinds: &[&str]| {
            kinds
                .iter()
                .find_map(|k| layouts.iter().find(|(_, kind)| kind == k).map(|(p, _)| p.clone()))
        };
        let first = layouts
            .first()
            .map(|(p, _)| p.clone())
            .ok_or_else(|| anyhow!("{origin} has no slide layouts"))?;
        base.title_layout = of_kind(&["title"]).unwrap_or_else(|| first.clone());
        base.content_layout = of_kind(&["titleOnly", "obj", "tx"]).unwrap_or(first);
        // The title's place: the layout's own, else the master's it inherits.
        let layout = &base.parts[&base.content_layout];
        base.title_bottom = match title_bottom(layout)? {
            Some(bottom) => Some(bottom),
            None => {
                let rels = base.parts.get(&rels_of(&base.content_layout));
                let master = read_rels(rels.map_or(&[][..], Vec::as_slice))?
                    .into_iter()
                    .find(|r| r.1.ends_with("/slideMaster"))
                    .map(|r| resolve(dir_of(&base.content_layout), &r.2));
                match master.and_then(|m| base.parts.get(&m)) {
                    Some(xml) => title_bottom(xml)?,
                    None => None,
                }
            }
        };
        Ok(base)
    }

    fn read_content_types(&mut self, xml: &[u8]) -> Result<()> {
        let mut reader = quick_xml::Reader::from_reader(xml);
        let mut buf = Vec::new();
        loop {
            match reader.read_event_into(&mut buf)? {
                Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                    "Default" => {
                        if let (Some(ext), Some(kind)) =
                            (attribute(&e, "Extension")?, attribute(&e, "ContentType")?)
                        {
                            self.defaults.insert(ext.to_lowercase(), kind);
                        }
                    }
                    "Override" => {
                        if let (Some(part), Some(kind)) =
                            (attribute(&e, "PartName")?, attribute(&e, "ContentType")?)
                        {
                            self.overrides
                                .insert(part.trim_start_matches('/').to_string(), kind);
                        }
                    }
                    _ => {}
                },
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        Ok(())
    }

    /// A part with a content type of its own.
    pub(super) fn put(&mut self, part: &str, content_type: &str, bytes: Vec<u8>) {
        self.overrides.insert(part.to_string(), content_type.to_string());
        self.parts.insert(part.to_string(), bytes);
    }

    /// A part whose content type is its extension's default.
    pub(super) fn put_raw(&mut self, part: &str, bytes: Vec<u8>) {
        self.parts.insert(part.to_string(), bytes);
    }

    pub(super) fn put_default(&mut self, extension: &str, content_type: &str) {
        self.defaults
            .entry(extension.to_string())
            .or_insert_with(|| content_type.to_string());
    }

    /// The notes master the notes slides use: the template's, else the built-in one (added).
    pub(super) fn ensure_notes_master(&mut self) -> Result<String> {
        if let Some(master) = &self.notes_master {
            return Ok(master.clone());
        }
        let master = self.free_name("ppt/notesMasters/notesMaster", ".xml");
        let theme = self.free_name("ppt/theme/theme", ".xml");
        self.put(
            &master,
            CT_NOTES_MASTER,
            include_bytes!("notes_master.xml").to_vec(),
        );
        self.put(&theme, CT_THEME, include_bytes!("theme.xml").to_vec());
        let mut rels = Rels::default();
        rels.add(&format!("{REL}/theme"), &super::relative(dir_of(&master), &theme));
        self.put_raw(&rels_of(&master), rels.xml().into_bytes());
        self.notes_master = Some(master.clone());
        Ok(master)
    }

    /// `prefix` + the first number not yet a part + `suffix`.
    fn free_name(&self, prefix: &str, suffix: &str) -> String {
        (1..)
            .map(|n| format!("{prefix}{n}{suffix}"))
            .find(|p| !self.parts.contains_key(p))
            .expect("a free part name")
    }

    /// The finished package: the presentation lists `slides` (part names, in order) and the
    /// notes master; the document properties are the deck's.
    pub(super) fn finish(
        mut self,
        slides: &[String],
        properties: &Properties,
        count: usize,
    ) -> Result<Vec<u8>> {
        let presentation = self.presentation.clone();
        let rels_part = rels_of(&presentation);
        let from = dir_of(&presentation).to_string();
        let mut rels = Rels::default();
        for (id, kind, target, external) in read_rels(&self.parts[&rels_part])? {
            // The template's slides are gone; a notes master is listed once, below.
            if kind.ends_with("/slide") || kind.ends_with("/notesMaster") {
                continue;
            }
            rels.add_with_id(&id, &kind, &target, external);
        }
        let notes_master = self.notes_master.clone().context("a notes master")?;
        rels.add_with_id(
            "govpackNotesMaster",
            &format!("{REL}/notesMaster"),
            &super::relative(&from, &notes_master),
            false,
        );
        for (i, slide) in slides.iter().enumerate() {
            rels.add_with_id(
                &format!("govpackSlide{}", i + 1),
                &format!("{REL}/slide"),
                &super::relative(&from, slide),
                false,
            );
        }
        self.parts.insert(rels_part, rels.xml().into_bytes());
        let xml = self.parts[&presentation].clone();
        let rewritten =
            list_slides(&xml, slides.len()).with_context(|| format!("cannot rewrite {presentation}"))?;
        self.parts.insert(presentation, rewritten);

        // The deck's own document properties; a template's thumbnail would show its old slide.
        let mut root = Rels::default();
        for (id, kind, target, external) in
            read_rels(self.parts.get("_rels/.rels").map_or(&[][..], Vec::as_slice))?
        {
            if kind.ends_with("/core-properties")
                || kind.ends_with("/extended-properties")
                || kind.ends_with("/thumbnail")
            {
                let part = resolve("", &target);
                self.parts.remove(&part);
                self.overrides.remove(&part);
                continue;
            }
            root.add_with_id(&id, &kind, &target, external);
        }
        root.add_with_id(
            "govpackCore",
            &format!("{PACKAGE_REL}/core-properties"),
            "docProps/core.xml",
            false,
        );
        root.add_with_id(
            "govpackApp",
            &format!("{REL}/extended-properties"),
            "docProps/app.xml",
            false,
        );
        self.parts.insert("_rels/.rels".into(), root.xml().into_bytes());
        let when = properties.created.format("%Y-%m-%dT%H:%M:%SZ");
        self.put(
            "docProps/core.xml",
            CT_CORE,
            format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:title>{}</dc:title><dc:subject>{}</dc:subject><dc:creator>govpack</dc:creator><dcterms:created xsi:type="dcterms:W3CDTF">{when}</dcterms:created><dcterms:modified xsi:type="dcterms:W3CDTF">{when}</dcterms:modified></cp:coreProperties>"#,
                esc(properties.title),
                esc(properties.subject)
            )
            .into_bytes(),
        );
        self.put(
            "docProps/app.xml",
            CT_APP,
            format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Application>govpack {}</Application><Slides>{count}</Slides><Notes>{count}</Notes></Properties>"#,
                env!("CARGO_PKG_VERSION")
            )
            .into_bytes(),
        );
        self.zip(properties.created)
    }

    fn content_types(&self) -> String {
        let mut xml = String::from(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">"#,
        );
        for (ext, kind) in &self.defaults {
            xml.push_str(&format!(
                r#"<Default Extension="{}" ContentType="{}"/>"#,
                esc(ext),
                esc(kind)
            ));
        }
        for (part, kind) in &self.overrides {
            if self.parts.contains_key(part) {
                xml.push_str(&format!(
                    r#"<Override PartName="/{}" ContentType="{}"/>"#,
                    esc(part),
                    esc(kind)
                ));
            }
        }
        xml.push_str("</Types>");
        xml
    }

    fn zip(&self, created: chrono::NaiveDateTime) -> Result<Vec<u8>> {
        use chrono::{Datelike, Timelike};
        // Every entry carries the document's date, never the clock: the same deck, the same bytes.
        let when = zip::DateTime::from_date_and_time(
            created.year().clamp(1980, 2107) as u16,
            created.month() as u8,
            created.day() as u8,
            created.hour() as u8,
            created.minute() as u8,
            created.second() as u8,
        )
        .map_err(|e| anyhow!("a zip date: {e}"))?;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(when);
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        // Content types first, as Office writes them; then the package relationships.
        zip.start_file("[Content_Types].xml", options)?;
        zip.write_all(self.content_types().as_bytes())?;
        let order = std::iter::once("_rels/.rels").chain(
            self.parts
                .keys()
                .map(String::as_str)
                .filter(|p| *p != "_rels/.rels"),
        );
        let mut seen = BTreeSet::new();
        for part in order {
            let Some(bytes) = self.parts.get(part) else {
                continue;
            };
            if !seen.insert(part) {
                continue;
            }
            zip.start_file(part, options)?;
            zip.write_all(bytes)?;
        }
        Ok(zip.finish()?.into_inner())
    }
}

/// The presentation part with its slide list replaced by `count` slides (`govpackSlide1`...)
/// and its notes master list by the one notes master (`govpackNotesMaster`).
fn list_slides(xml: &[u8], count: usize) -> Result<Vec<u8>> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut writer = quick_xml::Writer::new(Vec::new());
    let mut buf = Vec::new();
    let mut skipping: Option<String> = None;
    let mut depth = 0usize;
    let mut listed = false;
    let notes = format!(
        r#"<p:notesMasterIdLst xmlns:p="{NS_P}" xmlns:r="{NS_R}"><p:notesMasterId r:id="govpackNotesMaster"/></p:notesMasterIdLst>"#
    );
    let mut slides = format!(r#"<p:sldIdLst xmlns:p="{NS_P}" xmlns:r="{NS_R}">"#);
    for n in 1..=count {
        slides.push_str(&format!(r#"<p:sldId id="{}" r:id="govpackSlide{n}"/>"#, 255 + n));
    }
    slides.push_str("</p:sldIdLst>");
    let raw = |writer: &mut quick_xml::Writer<Vec<u8>>, text: &str| {
        writer.get_mut().extend_from_slice(text.as_bytes())
    };
    loop {
        let event = reader.read_event_into(&mut buf)?;
        if let Some(name) = &skipping {
            match &event {
                Event::Start(e) if e.local_name().as_ref() == name.as_str() => depth += 1,
                Event::End(e) if e.local_name().as_ref() == name.as_str() => {
                    depth -= 1;
                    if depth == 0 {
                        skipping = None;
                    }
                }
                Event::Eof => bail!("the presentation part ends inside {name}"),
                _ => {}
            }
            buf.clear();
            continue;
        }
        match &event {
            Event::Start(e) if matches!(e.local_name().as_ref(), "sldIdLst" | "notesMasterIdLst") => {
                skipping = Some(e.local_name().as_ref().to_string());
                depth = 1;
            }
            Event::Empty(e) if matches!(e.local_name().as_ref(), "sldIdLst" | "notesMasterIdLst") => {}
            Event::End(e) if e.local_name().as_ref() == "sldMasterIdLst" => {
                writer.write_event(event.borrow())?;
                raw(&mut writer, &notes);
            }
            Event::Start(e) | Event::Empty(e)
                if !listed && matches!(e.local_name().as_ref(), "sldSz" | "notesSz") =>
            {
                raw(&mut writer, &slides);
                listed = true;
                writer.write_event(event.borrow())?;
            }
            Event::Eof => break,
            _ => writer.write_event(event.borrow())?,
        }
        buf.clear();
    }
    if !listed {
        bail!("the presentation part has no slide size");
    }
    Ok(writer.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_placeholder_ends_at_its_offset_plus_its_height_and_one_without_a_frame_is_inherited() {
        let layout = br#"<p:sldLayout xmlns:p="P" xmlns:a="A"><p:cSld><p:spTree>
            <p:sp><p:nvSpPr><p:nvPr><p:ph type="body" idx="1"/></p:nvPr></p:nvSpPr><p:spPr><a:xfrm><a:off x="0" y="5"/><a:ext cx="1" cy="9"/></a:xfrm></p:spPr></p:sp>
            <p:sp><p:nvSpPr><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr><p:spPr><a:xfrm><a:off x="457200" y="274638"/><a:ext cx="8229600" cy="1143000"/></a:xfrm></p:spPr></p:sp>
            </p:spTree></p:cSld></p:sldLayout>"#;
        assert_eq!(title_bottom(layout).unwrap(), Some(274_638 + 1_143_000));
        let inherits = br#"<p:sldLayout xmlns:p="P"><p:cSld><p:spTree><p:sp><p:nvSpPr><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr><p:spPr/></p:sp></p:spTree></p:cSld></p:sldLayout>"#;
        assert_eq!(title_bottom(inherits).unwrap(), None);
        // The built-in master's title ends at one inch: its content starts where it always did.
        assert_eq!(
            title_bottom(include_bytes!("slide_master.xml")).unwrap(),
            Some(914_400)
        );
    }

    #[test]
    fn targets_resolve_against_the_folder_of_the_part_that_holds_them() {
        assert_eq!(
            resolve("ppt/slides", "../slideLayouts/slideLayout2.xml"),
            "ppt/slideLayouts/slideLayout2.xml"
        );
        assert_eq!(resolve("ppt", "slides/slide1.xml"), "ppt/slides/slide1.xml");
        assert_eq!(resolve("", "/ppt/presentation.xml"), "ppt/presentation.xml");
        assert_eq!(rels_of("ppt/presentation.xml"), "ppt/_rels/presentation.xml.rels");
    }

    #[test]
    fn the_slide_list_is_replaced_in_schema_order() {
        let xml = br#"<p:presentation xmlns:p="P" xmlns:r="R"><p:sldMasterIdLst><p:sldMasterId id="1" r:id="rId1"/></p:sldMasterIdLst><p:notesMasterIdLst><p:notesMasterId r:id="rId9"/></p:notesMasterIdLst><p:sldIdLst><p:sldId id="256" r:id="rId7"/></p:sldIdLst><p:sldSz cx="1" cy="2"/></p:presentation>"#;
        let out = String::from_utf8(list_slides(xml, 2).unwrap()).unwrap();
        assert!(!out.contains("rId7") && !out.contains("rId9"), "{out}");
        let at = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s} in {out}"));
        assert!(at("</p:sldMasterIdLst>") < at("govpackNotesMaster"));
        assert!(at("govpackNotesMaster") < at("govpackSlide1"));
        assert!(at("govpackSlide2") < at("<p:sldSz"));
    }
}
