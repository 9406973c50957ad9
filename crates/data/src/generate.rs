//! A deterministic generator of labelled, movie-review-like texts in the IMDB schema.
//!
//! Nothing here is copied from IMDB or any other corpus: reviews are assembled from templates and
//! word lists written for this crate. They are meant to be *learnable but not trivial*:
//!
//! - sentiment words (`superb`, `tedious`, …) correlate with the label, and each review ends
//!   with a verdict that matches it;
//! - negations flip them (`not boring`, `far from convincing`);
//! - most reviews are mixed: 30–58 % of their remarks go against the label (aspects praised in a
//!   negative review or panned in a positive one, sometimes joined with `but` / `however`); in the
//!   hardest ones only the closing verdict, when there is one, settles it, which leaves a little
//!   label noise as real reviews have (a naive-Bayes baseline scores about 0.90 / 0.93 with
//!   unigrams / bigrams on the committed sample);
//! - lengths range from a single line to ten paragraphs (mean about 1 300 characters, like IMDB),
//!   paragraphs separated by `<br /><br />` as in IMDB's texts;
//! - plot summaries, character names and neutral remarks carry no label signal.
//!
//! The same `(rows, seed)` always gives the same rows, on every platform (the randomness is the
//! crate's numpy-compatible PCG64). Labels are exactly balanced (`0` = `neg`, `1` = `pos`), and
//! each row gets a rating consistent with its label (1–4 or 7–10) so the `aclImdb` writer can name
//! files `<id>_<rating>.txt`.

use std::fmt::Write as _;
use std::path::Path;

use crate::dataset::{TextDataset, TextRow};
use crate::error::{DataError, Result};
use crate::label::LabelMap;
use crate::rng::NumpyGenerator;

struct Rand(NumpyGenerator);

impl Rand {
    fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            0
        } else {
            self.0.random_interval(n as u64 - 1) as usize
        }
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    /// True with probability `percent / 100`.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
}

const TITLE_A: &[&str] = &[
    "Silent",
    "Last",
    "Broken",
    "Golden",
    "Midnight",
    "Crimson",
    "Distant",
    "Hollow",
    "Northern",
    "Paper",
    "Iron",
    "Quiet",
    "Burning",
    "Lost",
    "Seventh",
    "Glass",
    "Wild",
    "Winter",
    "Electric",
    "Forgotten",
    "Hidden",
    "Endless",
    "Scarlet",
    "Lonely",
];
const TITLE_B: &[&str] = &[
    "Harbor",
    "Protocol",
    "Garden",
    "Empire",
    "River",
    "Promise",
    "Frontier",
    "Station",
    "Orchard",
    "Signal",
    "Kingdom",
    "Voyage",
    "Mirror",
    "Summer",
    "Letters",
    "Horizon",
    "Machine",
    "Island",
    "Carnival",
    "Lighthouse",
    "Verdict",
    "Circus",
    "Cathedral",
    "Highway",
];
const GENRES: &[&str] = &[
    "thriller",
    "comedy",
    "drama",
    "western",
    "horror film",
    "romance",
    "science fiction film",
    "war movie",
    "musical",
    "mystery",
    "family film",
    "crime drama",
    "documentary",
    "animated film",
];
const NAMES: &[&str] = &[
    "Marta", "Jonah", "Elise", "Victor", "Priya", "Tomas", "Ada", "Felix", "Nora", "Idris", "Lena",
    "Oskar", "Mina", "Rafael", "Greta", "Samuel", "Yara", "Hugo", "Chloe", "Anton",
];
const ROLES: &[&str] = &[
    "a retired detective",
    "a young nurse",
    "a struggling painter",
    "a small-town mayor",
    "a ship's cook",
    "a disgraced lawyer",
    "a night-shift baker",
    "a former boxer",
    "a shy librarian",
    "an aging rock singer",
    "a teenage inventor",
    "a war photographer",
];
const EVENTS: &[&str] = &[
    "inherits a crumbling hotel",
    "witnesses a robbery",
    "falls for a stranger on a train",
    "tries to win back an estranged brother",
    "uncovers a family secret",
    "is hired to find a missing dog",
    "loses everything in a storm",
    "joins a travelling theatre troupe",
    "is stranded on a remote island",
    "agrees to coach a hopeless football team",
    "receives letters from a dead friend",
];
const PLACES: &[&str] = &[
    "a fishing village",
    "1970s Marseille",
    "a snowed-in mountain town",
    "the outskirts of Lisbon",
    "a space station",
    "a Mississippi riverboat",
    "post-war Vienna",
    "a seaside boarding house",
    "a desert motel",
    "a crowded Tokyo suburb",
];
const ASPECTS: &[&str] = &[
    "the acting",
    "the script",
    "the plot",
    "the direction",
    "the cinematography",
    "the soundtrack",
    "the pacing",
    "the ending",
    "the dialogue",
    "the editing",
    "the special effects",
    "the lead performance",
    "the supporting cast",
    "the production design",
    "the humour",
    "the chemistry between the leads",
    "the first act",
    "the final twist",
];
const POS_ADJ: &[&str] = &[
    "brilliant",
    "superb",
    "wonderful",
    "excellent",
    "gripping",
    "moving",
    "delightful",
    "masterful",
    "charming",
    "stunning",
    "memorable",
    "compelling",
    "heartfelt",
    "clever",
    "beautiful",
    "hilarious",
    "powerful",
    "flawless",
    "engaging",
    "touching",
    "inventive",
    "fantastic",
    "captivating",
    "outstanding",
    "thoughtful",
    "riveting",
    "magnificent",
    "witty",
];
const NEG_ADJ: &[&str] = &[
    "dull",
    "boring",
    "awful",
    "terrible",
    "clumsy",
    "lifeless",
    "predictable",
    "tedious",
    "wooden",
    "incoherent",
    "forgettable",
    "pointless",
    "bland",
    "painful",
    "dreadful",
    "lazy",
    "shallow",
    "messy",
    "laughable",
    "unconvincing",
    "sloppy",
    "annoying",
    "flat",
    "pretentious",
    "poor",
    "weak",
    "disappointing",
    "ridiculous",
];
const INTENSIFIERS: &[&str] = &[
    "really",
    "truly",
    "absolutely",
    "remarkably",
    "quite",
    "genuinely",
    "incredibly",
    "surprisingly",
    "utterly",
    "simply",
];
const NEGATIONS: &[&str] = &["not", "never", "hardly", "far from", "by no means"];
const POS_VERDICTS: &[&str] = &[
    "I would recommend it to anyone.",
    "Easily one of the best films I have seen this year.",
    "Go and see it; you will not regret it.",
    "I loved every minute of it.",
    "A real gem that deserves a bigger audience.",
    "I will happily watch it again.",
    "Highly recommended.",
    "Worth every penny of the ticket.",
    "It left me smiling for days.",
];
const NEG_VERDICTS: &[&str] = &[
    "Avoid this one.",
    "I want those two hours of my life back.",
    "Save your money.",
    "One of the worst films I have sat through.",
    "I cannot recommend it to anybody.",
    "I nearly walked out halfway through.",
    "A complete waste of time.",
    "Skip it.",
    "I regret watching it.",
];
const NEUTRAL: &[&str] = &[
    "I saw it at a late screening with a few friends.",
    "It runs a little over two hours.",
    "The film was shot on location over one summer.",
    "I had not read the book before watching it.",
    "My sister had recommended it months ago.",
    "The trailer gives away more than it should.",
    "It was released with very little publicity.",
    "Some scenes are in black and white.",
    "The director's previous film was a documentary.",
    "I watched the extended cut.",
];

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// One sentence about an aspect with the given polarity (`true` = favourable).
fn aspect_sentence(r: &mut Rand, favourable: bool) -> String {
    let aspect = r.pick(ASPECTS);
    let (adj, opposite) = if favourable {
        (r.pick(POS_ADJ), r.pick(NEG_ADJ))
    } else {
        (r.pick(NEG_ADJ), r.pick(POS_ADJ))
    };
    let intens = r.pick(INTENSIFIERS);
    match r.below(11) {
        0 => format!("{} was {intens} {adj}.", capitalize(aspect)),
        // Negations that bag-of-words models get wrong.
        9 => format!("I would never call {aspect} {opposite}."),
        10 => format!("Nobody could say {aspect} was {opposite}."),
        1 => format!("I thought {aspect} was {adj}."),
        2 => format!(
            "{} is {adj}, and {} is {intens} {}.",
            capitalize(aspect),
            r.pick(ASPECTS),
            if favourable {
                r.pick(POS_ADJ)
            } else {
                r.pick(NEG_ADJ)
            }
        ),
        // Negated opposite: "not boring" reads favourable, "never convincing" unfavourable.
        3 => format!(
            "{} is {} {opposite}.",
            capitalize(aspect),
            r.pick(NEGATIONS)
        ),
        4 => format!(
            "What {} {adj} piece of work {aspect} turned out to be.",
            article(adj)
        ),
        5 => {
            if favourable {
                format!("I did not expect {aspect} to be this {adj}.")
            } else {
                format!("I expected more, but {aspect} was {intens} {adj}.")
            }
        }
        6 => format!("Everyone I talked to found {aspect} {adj}."),
        7 => {
            if favourable {
                format!(
                    "{} {} me from the start.",
                    capitalize(aspect),
                    r.pick(&["won", "hooked", "moved", "impressed", "charmed"])
                )
            } else {
                format!(
                    "{} {} me from the start.",
                    capitalize(aspect),
                    r.pick(&["bored", "annoyed", "lost", "irritated", "frustrated"])
                )
            }
        }
        _ => format!("Honestly, {aspect} felt {adj}."),
    }
}

fn plot_sentence(r: &mut Rand, title: &str) -> String {
    let name = r.pick(NAMES);
    match r.below(4) {
        0 => format!(
            "\"{title}\" follows {name}, {}, who {} in {}.",
            r.pick(ROLES),
            r.pick(EVENTS),
            r.pick(PLACES)
        ),
        1 => format!(
            "Set in {}, the story centres on {name}, {}.",
            r.pick(PLACES),
            r.pick(ROLES)
        ),
        2 => format!(
            "{name} {} and has to decide what to do next.",
            r.pick(EVENTS)
        ),
        _ => format!(
            "The {} is built around {name} and {}.",
            r.pick(GENRES),
            r.pick(NAMES)
        ),
    }
}

fn verdict(r: &mut Rand, positive: bool, rating: u8) -> String {
    let v = if positive {
        r.pick(POS_VERDICTS)
    } else {
        r.pick(NEG_VERDICTS)
    };
    if r.chance(40) {
        format!("{v} {rating}/10.")
    } else {
        v.to_string()
    }
}

/// One review with the given label.
fn review(r: &mut Rand, positive: bool, rating: u8) -> String {
    let title = format!("{} {}", r.pick(TITLE_A), r.pick(TITLE_B));
    // Share (percent) of aspect sentences that go against the label: clear reviews, mixed ones,
    // and hard ones that are nearly balanced until the verdict.
    let against = match r.below(100) {
        0..=39 => r.range(0, 10),
        40..=84 => r.range(30, 45),
        _ => r.range(45, 58),
    };
    let size = r.below(100);
    let paragraphs = match size {
        0..=9 => 0, // one-liner
        10..=34 => r.range(1, 2),
        35..=69 => r.range(2, 4),
        70..=91 => r.range(4, 7),
        _ => r.range(7, 10),
    };
    if paragraphs == 0 {
        let mut s = aspect_sentence(r, positive);
        if r.chance(60) {
            s.push(' ');
            s.push_str(&verdict(r, positive, rating));
        }
        return s;
    }
    let mut paras: Vec<String> = Vec::with_capacity(paragraphs);
    for p in 0..paragraphs {
        let mut para = String::new();
        let sentences = r.range(4, 10);
        for k in 0..sentences {
            let sentence = if p == 0 && k == 0 && r.chance(70) {
                plot_sentence(r, &title)
            } else if r.chance(30) {
                if r.chance(50) {
                    plot_sentence(r, &title)
                } else {
                    r.pick(NEUTRAL).to_string()
                }
            } else {
                let favourable = if r.below(100) < against {
                    !positive
                } else {
                    positive
                };
                let s = aspect_sentence(r, favourable);
                if favourable != positive && r.chance(25) {
                    // Concede the other side, then come back to the review's overall view.
                    let back = aspect_sentence(r, positive);
                    format!(
                        "{} {} {}",
                        s,
                        r.pick(&["But", "However,", "Still,", "That said,"]),
                        lower_first(&back)
                    )
                } else {
                    s
                }
            };
            if !para.is_empty() {
                para.push(' ');
            }
            para.push_str(&sentence);
        }
        paras.push(para);
    }
    if let Some(last) = paras.last_mut().filter(|_| r.chance(70)) {
        last.push(' ');
        last.push_str(&verdict(r, positive, rating));
    }
    paras.join("<br /><br />")
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        // Keep proper nouns and "I" capitalised.
        Some(first) if s.starts_with("I ") || s.starts_with('"') => {
            first.to_string() + chars.as_str()
        }
        Some(first) => first.to_lowercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// `rows` generated reviews for `seed`: exactly balanced labels in a shuffled order, each with a
/// rating (1–4 for `neg`, 7–10 for `pos`) and `source_index` = row number.
pub fn generate_reviews(rows: usize, seed: u64) -> Vec<TextRow> {
    let mut r = Rand(NumpyGenerator::default_rng(seed));
    let mut labels: Vec<i64> = (0..rows).map(|i| i64::from(i >= rows / 2)).collect();
    r.0.shuffle(&mut labels);
    labels
        .into_iter()
        .enumerate()
        .map(|(i, label)| {
            let positive = label == 1;
            let rating = if positive {
                r.range(7, 10)
            } else {
                r.range(1, 4)
            } as u8;
            TextRow {
                text: review(&mut r, positive, rating),
                label,
                rating: Some(rating),
                source_index: i,
            }
        })
        .collect()
}

/// [`generate_reviews`] as a split with IMDB's label names.
pub fn generate_dataset(rows: usize, seed: u64) -> TextDataset {
    TextDataset::from_rows(generate_reviews(rows, seed), LabelMap::imdb())
}

/// Writes a split in the `aclImdb` layout: `<dir>/<split>/{neg,pos}/<source_index>_<rating>.txt`
/// (`unsup/` for label -1). Rows without a rating get 0.
///
/// # Errors
/// [`DataError::Io`] when a directory or file cannot be written.
pub fn write_acl_imdb_split(dataset: &TextDataset, dir: &Path, split: &str) -> Result<()> {
    let mut name = String::new();
    for row in dataset.iter() {
        let class = match row.label {
            0 => "neg",
            1 => "pos",
            _ => "unsup",
        };
        let class_dir = dir.join(split).join(class);
        if !class_dir.is_dir() {
            std::fs::create_dir_all(&class_dir)
                .map_err(|e| DataError::io("create", &class_dir, e))?;
        }
        name.clear();
        let _ = write!(name, "{}_{}.txt", row.source_index, row.rating.unwrap_or(0));
        let path = class_dir.join(&name);
        std::fs::write(&path, &row.text).map_err(|e| DataError::io("write", &path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_balanced_and_varied() {
        let a = generate_reviews(400, 7);
        assert_eq!(a, generate_reviews(400, 7));
        assert_ne!(a, generate_reviews(400, 8));
        assert_eq!(a.iter().filter(|r| r.label == 1).count(), 200);
        let lens: Vec<usize> = a.iter().map(|r| r.text.len()).collect();
        let min = lens.iter().copied().min().unwrap_or(0);
        let max = lens.iter().copied().max().unwrap_or(0);
        let mean = lens.iter().sum::<usize>() / lens.len();
        assert!(min < 150 && max > 2500, "lengths {min}..{max}");
        assert!((900..1800).contains(&mean), "mean length {mean}");
        assert!(
            a.iter()
                .any(|r| r.text.contains(" not ") || r.text.contains("never"))
        );
        for row in &a {
            let rating = row.rating.unwrap_or(0);
            assert!(if row.label == 1 {
                (7..=10).contains(&rating)
            } else {
                (1..=4).contains(&rating)
            });
        }
    }

    #[test]
    fn sentiment_words_carry_signal() {
        // A bag-of-words rule should beat chance clearly but not be perfect.
        let rows = generate_reviews(2000, 1);
        let score = |t: &str| -> i64 {
            let t = t.to_lowercase();
            POS_ADJ
                .iter()
                .map(|w| t.matches(w).count() as i64)
                .sum::<i64>()
                - NEG_ADJ
                    .iter()
                    .map(|w| t.matches(w).count() as i64)
                    .sum::<i64>()
        };
        let correct = rows
            .iter()
            .filter(|r| (score(&r.text) > 0) == (r.label == 1))
            .count();
        let accuracy = correct as f64 / rows.len() as f64;
        assert!(
            accuracy > 0.7 && accuracy < 0.99,
            "word-count accuracy {accuracy}"
        );
    }
}
