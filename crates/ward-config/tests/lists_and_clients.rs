//! Issue 13: client tags for `$ctag`, and the directories `path` lists may be read from.

use std::path::PathBuf;

use ward_config::{CLIENT_TAGS, Config};

fn with(more: &str) -> String {
    format!(
        "upstreams: {{ default: {{ servers: [9.9.9.9] }} }}\n\
         policies: {{ main: {{}}, kids: {{}} }}\n\
         default_policy: main\n{more}"
    )
}

#[test]
fn client_tags_are_adguard_homes_and_round_trip() {
    assert_eq!(CLIENT_TAGS.len(), 21);
    let c = Config::from_yaml(&with(
        "clients:\n  - { subnet: 192.168.1.23/32, policy: kids, name: dad-laptop, tags: [user_child, device_laptop] }\n",
    ))
    .unwrap();
    assert_eq!(c.clients[0].tags, ["user_child", "device_laptop"]);
    assert_eq!(Config::from_yaml(&c.to_yaml()).unwrap(), c);

    // A client without tags is written as before (so its revision is unchanged).
    let c = Config::from_yaml(&with(
        "clients:\n  - { subnet: 192.168.1.0/24, policy: kids }\n",
    ))
    .unwrap();
    assert!(!c.to_yaml().contains("tags"), "{}", c.to_yaml());
}

#[test]
fn an_unknown_client_tag_is_an_error_naming_its_line() {
    let err = Config::from_yaml(&with(
        "clients:\n  - { subnet: 192.168.1.0/24, policy: kids }\n  - subnet: 192.168.1.23/32\n    policy: kids\n    tags: [user_child, user_kid, printer]\n",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("line 8: clients[1].tags[1]") && err.contains("\"user_kid\""),
        "{err}"
    );
    assert!(
        err.contains("did you mean \"user_admin\"") || err.contains("user_child"),
        "{err}"
    );
    assert!(
        err.contains("clients[1].tags[2]") && err.contains("device_printer"),
        "{err}"
    );
    assert!(!err.contains("tags[0]"), "{err}");
}

#[test]
fn list_dirs_parse_are_node_local_and_are_not_written_when_unset() {
    let c = Config::from_yaml(&with("list_dirs: [/etc/ward/lists, /srv/lists]\n")).unwrap();
    assert_eq!(
        c.list_dirs,
        [
            PathBuf::from("/etc/ward/lists"),
            PathBuf::from("/srv/lists")
        ]
    );
    assert_eq!(Config::from_yaml(&c.to_yaml()).unwrap(), c);
    let plain = Config::from_yaml(&with("")).unwrap();
    assert!(!plain.to_yaml().contains("list_dirs"));
    assert!(
        c.filtering_eq(&plain),
        "node-local: a replica keeps its own"
    );
    assert_eq!(plain.with_node_local_from(&c).list_dirs, c.list_dirs);
    // Every entry commented out: the defaults.
    assert!(
        Config::from_yaml(&with("list_dirs:\n"))
            .unwrap()
            .list_dirs
            .is_empty()
    );

    let err = Config::from_yaml(&with("list_dirs: [\"\"]\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("list_dirs[0]"), "{err}");
    let err = Config::from_yaml(&with("list_dirs: /srv/lists\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("list_dirs"), "{err}");
}
