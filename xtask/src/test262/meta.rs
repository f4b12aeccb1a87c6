//! A test's front matter (the YAML between `/*---` and `---*/`, INTERPRETING.md "Metadata"),
//! and the runs it asks for.

use anyhow::{bail, Context, Result};
use yaml_rust2::{Yaml, YamlLoader};

/// What the runner needs from the front matter.
#[derive(Debug, Default, Clone)]
pub struct Meta {
    /// Harness files to evaluate before the test (after assert.js and sta.js).
    pub includes: Vec<String>,
    /// `flags`.
    pub flags: Vec<String>,
    /// `negative: {phase, type}`.
    pub negative: Option<(String, String)>,
    /// `features`.
    pub features: Vec<String>,
}

impl Meta {
    /// Parses the front matter of `source` (file `name` in messages).
    pub fn parse(name: &str, source: &str) -> Result<Self> {
        let start = source.find("/*---").with_context(|| format!("{name}: no front matter (/*--- ... ---*/)"))?;
        let end = source[start..].find("---*/").with_context(|| format!("{name}: front matter is not closed"))? + start;
        let docs = YamlLoader::load_from_str(&source[start + 5..end]).with_context(|| format!("{name}: front matter is not YAML"))?;
        let Some(doc) = docs.first() else { return Ok(Self::default()) };
        let list = |key: &str| -> Vec<String> {
            doc[key].as_vec().map(|v| v.iter().filter_map(|y| y.as_str().map(str::to_owned)).collect()).unwrap_or_default()
        };
        let negative = match &doc["negative"] {
            Yaml::Hash(_) => {
                let phase = doc["negative"]["phase"].as_str().with_context(|| format!("{name}: negative without phase"))?;
                let ty = doc["negative"]["type"].as_str().with_context(|| format!("{name}: negative without type"))?;
                Some((phase.to_owned(), ty.to_owned()))
            }
            Yaml::BadValue => None,
            _ => bail!("{name}: negative is not a mapping"),
        };
        Ok(Self { includes: list("includes"), flags: list("flags"), negative, features: list("features") })
    }

    /// Whether `flag` is set.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// The strictness of each run: `[false, true]` by default, one run for onlyStrict,
    /// noStrict, raw and module (module code is strict by itself).
    pub fn runs(&self) -> Vec<bool> {
        if self.has("onlyStrict") {
            vec![true]
        } else if self.has("noStrict") || self.has("raw") || self.has("module") {
            vec![false]
        } else {
            vec![false, true]
        }
    }
}
