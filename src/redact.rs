//! `Debug` for the types that hold a secret.

/// Implements `Debug` printing the fields named and `..` for the rest, so that a field holding
/// a secret (a secret key, a seed) is never printed, whatever is added to the type later.
macro_rules! debug_without_secrets {
    ($type:ident { $($field:ident),+ $(,)? }) => {
        impl std::fmt::Debug for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($type))
                    $(.field(stringify!($field), &self.$field))+
                    .finish_non_exhaustive()
            }
        }
    };
}

pub(crate) use debug_without_secrets;

#[cfg(test)]
mod tests {
    struct Login {
        user: String,
        password: String,
    }

    debug_without_secrets!(Login { user });

    #[test]
    fn prints_the_fields_named_only() {
        let login = Login {
            user: "alice".into(),
            password: "hunter2".into(),
        };
        assert_eq!(format!("{login:?}"), r#"Login { user: "alice", .. }"#);
        assert_eq!(login.password, "hunter2");
    }
}
