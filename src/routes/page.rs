//! `GET /`: the learner's page.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use crate::cookies::ReceivedCookies;
use crate::error::AppError;
use crate::html::render_html;
use crate::session::AppSession;

/// `templates/index.html`; askama escapes every value it inserts.
#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    csrf_token: &'a str,
    theme: &'a str,
    /// The lab's port, or "off".
    lab_port: String,
    /// False under `--unsafe-keep-id-on-login`: the page shows a red banner.
    fixation_defence: bool,
}

/// What the page needs to know of the process: where the lab listens.
#[derive(Clone, Copy, Debug)]
pub struct PageSettings {
    pub lab_port: Option<u16>,
    /// False under `--unsafe-keep-id-on-login`.
    pub fixation_defence: bool,
}

/// Serves the page. The visit counts a page view, and that write is what
/// creates the session and its cookie on a first visit. The `theme` cookie,
/// written by the page's script, is rendered into `data-theme` so a reload
/// shows the chosen theme from the first paint.
pub async fn index(
    State(settings): State<PageSettings>,
    mut session: AppSession,
    cookies: ReceivedCookies,
) -> Result<Response, AppError> {
    session.record_page_view().await?;
    let theme = cookies.theme();
    let page = IndexPage {
        csrf_token: session.csrf_token().unwrap_or_default(),
        theme,
        lab_port: settings
            .lab_port
            .map_or_else(|| "off".to_owned(), |port| port.to_string()),
        fixation_defence: settings.fixation_defence,
    };
    render_html(&page)
}
