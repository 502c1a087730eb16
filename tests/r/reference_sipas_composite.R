# Reference values from R `survey` (Lumley) for sipas_analysis.indices.sipas: SIPAS item, element
# and overall indices and their linearisation SEs (composites with the covariance between items).
#
# Usage:  Rscript tests/r/reference_sipas_composite.R [FIXTURE_CSV] [OUT_DIR]
#   defaults: tests/r/fixtures/sipas_composite_respondents.csv and tests/r/expected
#   (relative to the repository root). Writes OUT_DIR/sipas_composite_estimates.csv.
#
# The fixture is a small respondent table in the canonical layout with the 22 criteria of the
# `sipas-2017` instrument (item code = <element>_<n>, so the element is the code without its
# number): 2 strata (areas 794, 800), 3 communes per area, 2 villages (PSUs) per commune, unequal
# weights, item nonresponse, and the conditional PAKN criteria 2-4 (asked only if co_pakn == 1,
# blank otherwise). It was drawn once with a seeded numpy generator and is committed as data.
#
# Method (no rows are dropped: domain estimation on the full design):
#   design  svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE)
#   item    y_k = 1[x_k in {4, 5}] (statistic "top2", in %) or 100 (x_k - 1) / 4
#           ("mean_score_0_100"), v_k = 1[x_k answered]; in domain d the totals
#           Y_kd = sum w y_k v_k 1_d and V_kd = sum w v_k 1_d come from ONE svytotal call (joint
#           covariance), and the item index is the ratio Y_kd / V_kd;
#   element mean of its item ratios; overall SIPAS = mean of the 5 elements;
#   SEs     svycontrast() on the joint svytotal with the nonlinear expressions (delta method),
#           i.e. the same linearisation as svyby(..., svyratio / svymean, covmat = TRUE) +
#           svycontrast, with each item's own valid answers in the denominator. Every item row
#           is cross-checked against svyratio(~Y_k, ~V_k) (the script stops if the SEs differ by more
#           than 1e-8 relative: tiny commune SEs carry ~1e-9 rounding between the two forms).
suppressPackageStartupMessages(library(survey))

args <- commandArgs(trailingOnly = TRUE)
fixture <- if (length(args) >= 1) args[1] else "tests/r/fixtures/sipas_composite_respondents.csv"
out_dir <- if (length(args) >= 2) args[2] else "tests/r/expected"
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

d <- read.csv(fixture, stringsAsFactors = FALSE)
items <- grep("^(tiep_can|tthc|cong_chuc|ket_qua|pakn)_[0-9]+$", names(d), value = TRUE)
element_of <- sub("_[0-9]+$", "", items)
elements <- unique(element_of)

levels <- list(
  total = rep("total", nrow(d)),
  area = as.character(d$area_code),
  commune = as.character(d$commune_code)
)

rows <- list()
for (stat in c("top2", "mean_score_0_100")) {
  for (lv in names(levels)) {
    dom <- levels[[lv]]
    for (u in sort(unique(dom))) {
      ind <- as.numeric(dom == u)
      vars <- data.frame(row.names = seq_len(nrow(d)))
      for (k in items) {
        x <- d[[k]]
        v <- as.numeric(!is.na(x))
        y <- if (stat == "top2") as.numeric(!is.na(x) & x >= 4) * 100 else
          ifelse(is.na(x), 0, 100 * (x - 1) / 4)
        vars[[paste0("Y_", k)]] <- y * v * ind
        vars[[paste0("V_", k)]] <- v * ind
      }
      dd <- cbind(d[, c("psu", "stratum", "weight")], vars)
      des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE, data = dd)
      tot <- svytotal(as.formula(paste("~", paste(names(vars), collapse = "+"))), des)
      ratio <- function(k) paste0("(Y_", k, "/V_", k, ")")
      exprs <- list()
      for (k in items) exprs[[k]] <- parse(text = ratio(k))[[1]]
      el_text <- character(0)
      for (e in elements) {
        ks <- items[element_of == e]
        el_text[e] <- paste0("((", paste(sapply(ks, ratio), collapse = "+"), ")/", length(ks), ")")
        exprs[[e]] <- parse(text = el_text[e])[[1]]
      }
      exprs[["sipas"]] <- parse(
        text = paste0("((", paste(el_text, collapse = "+"), ")/", length(elements), ")")
      )[[1]]
      con <- svycontrast(tot, exprs)
      # cross-check: each item ratio and its SE equal svyratio() on the same design
      for (k in items) {
        r <- svyratio(as.formula(paste0("~Y_", k)), as.formula(paste0("~V_", k)), des)
        stopifnot(
          isTRUE(all.equal(as.numeric(coef(r)), as.numeric(coef(con)[k]), tolerance = 1e-12)),
          isTRUE(all.equal(as.numeric(SE(r)), as.numeric(SE(con)[k]), tolerance = 1e-8))
        )
      }
      rows[[length(rows) + 1]] <- data.frame(
        statistic = stat,
        level = lv,
        unit_code = u,
        index_level = ifelse(names(exprs) == "sipas", "overall",
          ifelse(names(exprs) %in% elements, "element", "item")),
        index_code = names(exprs),
        estimate = as.numeric(coef(con)),
        se = as.numeric(SE(con)),
        stringsAsFactors = FALSE
      )
    }
  }
}
res <- do.call(rbind, rows)
for (col in c("estimate", "se")) res[[col]] <- sprintf("%.17g", res[[col]])
write.csv(
  res,
  file.path(out_dir, "sipas_composite_estimates.csv"),
  row.names = FALSE
)
cat("wrote", nrow(res), "rows to", file.path(out_dir, "sipas_composite_estimates.csv"), "\n")
