//! The service catalogue page (Create Service → From a template): every template of `catalogue`,
//! searchable by name, category or authentication type, each leading to a pre-filled form.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::guard::Admin;
use crate::catalogue::{self, Template as ServiceTemplate};
use crate::error::AppError;
use crate::web::{Layout, local_path, render, wants_fragment};

#[derive(Template)]
#[template(path = "services/catalogue.html", blocks = ["results"])]
struct CataloguePage {
    layout: Layout,
    q: String,
    category: String,
    categories: Vec<&'static str>,
    templates: Vec<&'static ServiceTemplate>,
    /// Kept on the links to the form, so a service made from a template returns where it was asked.
    return_to: Option<String>,
}

impl CataloguePage {
    /// The form's address for a template.
    fn form_href(&self, template: &ServiceTemplate) -> String {
        let mut href = format!("/admin/services/new?template={}", template.id);
        if let Some(r) = &self.return_to {
            href.push_str("&return_to=");
            href.extend(url::form_urlencoded::byte_serialize(r.as_bytes()));
        }
        href
    }
}

#[derive(Deserialize)]
pub struct CatalogueQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    category: String,
    return_to: Option<String>,
}

pub async fn catalogue(
    req: HttpRequest,
    admin: Admin,
    query: web::Query<CatalogueQuery>,
) -> Result<HttpResponse, AppError> {
    let CatalogueQuery { q, category, return_to } = query.into_inner();
    let q: String = q.chars().filter(|c| !c.is_control()).take(200).collect();
    let mut categories: Vec<&'static str> = catalogue::all().iter().map(|t| t.category.as_str()).collect();
    categories.sort_unstable();
    categories.dedup();
    let category = if categories.contains(&category.as_str()) { category } else { String::new() };
    let templates =
        catalogue::search(&q).into_iter().filter(|t| category.is_empty() || t.category == category).collect();
    let page = CataloguePage {
        layout: Layout::new(&req, Some(&admin.0), "services"),
        q,
        category,
        categories,
        templates,
        return_to: return_to.filter(|r| local_path(Some(r)) != "/"),
    };
    if wants_fragment(&req, "template-results") {
        return render(&req, &page.as_results());
    }
    render(&req, &page)
}
