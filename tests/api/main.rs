//! Integration tests: the app over real HTTP, as a browser or curl sees it.

mod architecture;
mod bad_input;
mod browser;
mod browser_lab;
mod cli;
mod concurrency;
mod cookie;
mod csrf;
mod endpoints;
mod headers;
mod helpers;
mod hostile_cookies;
mod keep_alive;
mod lab;
mod lifecycle;
mod nginx;
mod page_logic;
mod properties;
mod redis_server;
mod redis_store;
mod replies;
mod rfc7396;
mod self_contained;
mod slow_clients;
mod store_bound;
mod walkthrough;
