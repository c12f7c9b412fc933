//! A trie over topic-filter levels: finds every rule whose FROM filter matches a topic in time
//! proportional to the topic's depth and the matching filters, whatever the number of rules.

use std::collections::HashMap;

use smallvec::SmallVec;

/// Which rules listen to which topics.
#[derive(Debug, Default)]
pub struct TopicIndex {
    root: Node,
}

#[derive(Debug, Default)]
struct Node {
    literal: HashMap<String, Node, foldhash::fast::RandomState>,
    plus: Option<Box<Node>>,
    /// Rules whose filter ends with `#` at this level.
    hash: Vec<usize>,
    /// Rules whose filter ends exactly here.
    exact: Vec<usize>,
}

impl TopicIndex {
    /// Adds rule `id` listening to `filter` (a filter the checker accepted).
    pub fn insert(&mut self, filter: &str, id: usize) {
        let mut node = &mut self.root;
        for level in filter.split('/') {
            match level {
                "#" => {
                    node.hash.push(id);
                    return;
                }
                "+" => node = node.plus.get_or_insert_with(Box::default),
                literal => node = node.literal.entry(literal.to_owned()).or_default(),
            }
        }
        node.exact.push(id);
    }

    /// The rules whose filter matches `topic`, in ascending order, each once. Follows
    /// `topic_filter::matches`: `a/#` does not match `a`, and wildcards in the first level
    /// never match topics starting with `$`.
    pub fn matching(&self, topic: &str) -> Vec<usize> {
        let mut found = Vec::new();
        self.matching_into(topic, &mut found);
        found
    }

    /// [`matching`](Self::matching) into `found`, which is cleared first; allocates nothing
    /// for topics with few `+` branches once `found` has grown.
    pub fn matching_into(&self, topic: &str, found: &mut Vec<usize>) {
        found.clear();
        let system = topic.starts_with('$');
        // An explicit stack keeps the walk iterative; each entry is a node and the topic
        // levels left after it (`None` once every level is consumed).
        let mut stack: SmallVec<[(&Node, Option<&str>, bool); 8]> = SmallVec::new();
        stack.push((&self.root, Some(topic), true));
        while let Some((node, rest, first)) = stack.pop() {
            let wildcards = !(system && first);
            let Some(rest) = rest else {
                found.extend_from_slice(&node.exact);
                continue;
            };
            if wildcards {
                found.extend_from_slice(&node.hash);
            }
            // Levels are short; a byte loop beats a general substring search.
            let (level, after) = match rest.bytes().position(|byte| byte == b'/') {
                Some(slash) => (rest.get(..slash).unwrap_or_default(), rest.get(slash + 1..)),
                None => (rest, None),
            };
            if let Some(next) = node.literal.get(level) {
                stack.push((next, after, false));
            }
            if wildcards && let Some(next) = &node.plus {
                stack.push((next, after, false));
            }
        }
        if found.len() > 1 {
            found.sort_unstable();
            found.dedup();
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::check::topic_filter::matches;

    #[test]
    fn follows_aws_matching() {
        let filters = ["sensor/#", "sensor/+/room1", "+/+", "#", "$aws/things/+/shadow/update", "a/b", "/company/+"];
        let mut index = TopicIndex::default();
        for (id, filter) in filters.iter().enumerate() {
            index.insert(filter, id);
        }
        assert_eq!(index.matching("sensor"), vec![3]);
        assert_eq!(index.matching("sensor/"), vec![0, 2, 3]);
        assert_eq!(index.matching("sensor/x/room1"), vec![0, 1, 3]);
        assert_eq!(index.matching("$aws/things/t1/shadow/update"), vec![4]);
        assert_eq!(index.matching("a/b"), vec![2, 3, 5]);
        assert_eq!(index.matching("/company/x"), vec![3, 6]);
    }

    fn level() -> impl Strategy<Value = String> {
        prop_oneof![Just("a".to_owned()), Just("b".to_owned()), Just(String::new()), Just("$x".to_owned())]
    }

    fn filter() -> impl Strategy<Value = String> {
        let filter_level = prop_oneof![level(), Just("+".to_owned())];
        (prop::collection::vec(filter_level, 1..5), any::<bool>()).prop_map(|(mut levels, hash)| {
            if hash {
                levels.push("#".to_owned());
            }
            levels.join("/")
        })
    }

    proptest! {
        /// The index finds exactly the rules the reference matcher accepts.
        #[test]
        fn agrees_with_the_reference_matcher(
            filters in prop::collection::vec(filter(), 1..20),
            topic in prop::collection::vec(level(), 1..6).prop_map(|levels| levels.join("/")),
        ) {
            let mut index = TopicIndex::default();
            for (id, filter) in filters.iter().enumerate() {
                index.insert(filter, id);
            }
            let expected: Vec<usize> =
                filters.iter().enumerate().filter(|(_, filter)| matches(filter, &topic)).map(|(id, _)| id).collect();
            prop_assert_eq!(index.matching(&topic), expected);
        }
    }
}
