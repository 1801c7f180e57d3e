//! The routing table (routes, aliases, scoped overrides) and the atomically swapped holder.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::route::Route;

/// Why a set of routes does not form a table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// A route nothing can serve.
    #[error("route '{0}' has no deployments")]
    NoDeployments(String),
    /// Two routes of one name.
    #[error("route '{0}' defined twice")]
    DuplicateRoute(String),
    /// An alias that hides a route.
    #[error("alias '{0}' is also a route name")]
    AliasShadowsRoute(String),
    /// An alias of nothing.
    #[error("alias '{alias}' points at unknown route '{target}'")]
    UnknownAliasTarget {
        /// The alias.
        alias: String,
        /// The route it names.
        target: String,
    },
    /// A scoped override of nothing.
    #[error("override of '{model}' for '{scope}' points at unknown route '{target}'")]
    UnknownOverrideTarget {
        /// The scope (a tenant id).
        scope: String,
        /// The model overridden.
        model: String,
        /// The route it names.
        target: String,
    },
}

/// An immutable snapshot of everything routable.
#[derive(Debug, Default)]
pub struct RoutingTable {
    routes: HashMap<String, Arc<Route>>,
    aliases: HashMap<String, String>,
    overrides: HashMap<(String, String), String>,
    /// Routes served only through an override.
    private: HashSet<String>,
}

impl RoutingTable {
    /// Builds a table. `aliases` maps an extra name to a route name; `overrides` maps
    /// (scope, model) to a route name, used instead of the model's own route for that scope
    /// (the gateway uses the tenant id as scope).
    pub fn new(
        routes: impl IntoIterator<Item = Route>,
        aliases: HashMap<String, String>,
        overrides: HashMap<(String, String), String>,
    ) -> Result<Self, TableError> {
        let mut by_name = HashMap::new();
        for route in routes {
            if route.deployments.is_empty() {
                return Err(TableError::NoDeployments(route.name));
            }
            let name = route.name.clone();
            if by_name.insert(name.clone(), Arc::new(route)).is_some() {
                return Err(TableError::DuplicateRoute(name));
            }
        }
        for (alias, target) in &aliases {
            if by_name.contains_key(alias) {
                return Err(TableError::AliasShadowsRoute(alias.clone()));
            }
            if !by_name.contains_key(target) {
                return Err(TableError::UnknownAliasTarget {
                    alias: alias.clone(),
                    target: target.clone(),
                });
            }
        }
        for ((scope, model), target) in &overrides {
            if !by_name.contains_key(target) {
                return Err(TableError::UnknownOverrideTarget {
                    scope: scope.clone(),
                    model: model.clone(),
                    target: target.clone(),
                });
            }
        }
        Ok(Self {
            routes: by_name,
            aliases,
            overrides,
            private: HashSet::new(),
        })
    }

    /// This table with the routes named in `private` served only through overrides: asking
    /// for one by its own name or an alias finds nothing.
    pub fn with_private(mut self, private: HashSet<String>) -> Self {
        self.private = private;
        self
    }

    /// The route serving `model` (a route name or alias) for `scope`.
    pub fn resolve(&self, scope: Option<&str>, model: &str) -> Option<&Arc<Route>> {
        let canonical = self.aliases.get(model).map_or(model, String::as_str);
        if let Some(scope) = scope
            && let Some(target) = self
                .overrides
                .get(&(scope.to_owned(), canonical.to_owned()))
                .or_else(|| self.overrides.get(&(scope.to_owned(), model.to_owned())))
        {
            return self.routes.get(target);
        }
        if self.private.contains(canonical) {
            return None;
        }
        self.routes.get(canonical)
    }

    /// Whether any scoped override exists (callers can skip building a scope string).
    pub fn has_overrides(&self) -> bool {
        !self.overrides.is_empty()
    }

    /// Every route.
    pub fn routes(&self) -> impl Iterator<Item = &Arc<Route>> {
        self.routes.values()
    }

    /// Every model name a client of `scope` may ask for, sorted: the routes and aliases that
    /// are not private, and the models `scope`'s overrides serve.
    pub fn model_names(&self, scope: Option<&str>) -> Vec<&str> {
        let public = self
            .routes
            .keys()
            .filter(|name| !self.private.contains(*name))
            .chain(
                self.aliases
                    .iter()
                    .filter(|(_, target)| !self.private.contains(*target))
                    .map(|(alias, _)| alias),
            );
        let overridden = self
            .overrides
            .keys()
            .filter(|(owner, _)| Some(owner.as_str()) == scope)
            .map(|(_, model)| model);
        let mut names: Vec<&str> = public.chain(overridden).map(String::as_str).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// Holds the current table; readers get a snapshot without locking, a reload swaps it whole.
#[derive(Debug)]
pub struct Router {
    table: ArcSwap<RoutingTable>,
}

impl Router {
    /// A router over `table`.
    pub fn new(table: RoutingTable) -> Self {
        Self {
            table: ArcSwap::from_pointee(table),
        }
    }

    /// The current snapshot.
    pub fn table(&self) -> arc_swap::Guard<Arc<RoutingTable>> {
        self.table.load()
    }

    /// Replaces the table (deployments keep their health if the caller reuses their `Health`).
    pub fn replace(&self, table: RoutingTable) {
        self.table.store(Arc::new(table));
    }
}
