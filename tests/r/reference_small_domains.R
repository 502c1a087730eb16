# Reference values from R `survey` (Lumley) for sipas_analysis.small_domains.design_variants: the
# commune SEs of the item indices under the three auxiliary designs of the pooled variance model.
#
# Usage:  Rscript tests/r/reference_small_domains.R [FIXTURE_CSV] [OUT_DIR]
#   defaults: tests/r/fixtures/sipas_composite_respondents.csv and tests/r/expected (relative to
#   the repository root). Writes OUT_DIR/small_domains_variants.csv.
#
# Fixture: the canonical respondent table of reference_sipas_composite.R (sipas-2017, 2 areas,
# 6 communes, 2 villages each, unequal weights, item nonresponse).
#
# Designs (no rows dropped: domain estimation on the full design):
#   within      svydesign(ids = ~psu, strata = ~commune_code, weights = ~weight, nest = TRUE)
#               villages sampled within each commune
#   respondent  svydesign(ids = ~1, strata = ~commune_code, weights = ~weight)
#               respondents sampled within each commune
#   village     svydesign(ids = ~1, strata = ~psu, weights = ~weight)
#               respondents sampled within each village (the fixture's village codes are
#               unique across communes)
# Item index in commune d: 100 * svyratio(y_k, v_k) with y_k = 1[x_k in {4, 5}] (0 where
# unanswered) and v_k = 1[x_k answered], by commune (svyby).
suppressPackageStartupMessages(library(survey))

args <- commandArgs(trailingOnly = TRUE)
fixture <- if (length(args) >= 1) args[1] else "tests/r/fixtures/sipas_composite_respondents.csv"
out_dir <- if (length(args) >= 2) args[2] else "tests/r/expected"

d <- read.csv(fixture, colClasses = c(psu = "character", stratum = "character"))
items <- grep("^(tiep_can|tthc|cong_chuc|ket_qua|pakn)_[0-9]+$", names(d), value = TRUE)
for (k in items) {
  x <- d[[k]]
  d[[paste0("y_", k)]] <- ifelse(!is.na(x) & x %in% c(4, 5), 1, 0)
  d[[paste0("v_", k)]] <- ifelse(is.na(x), 0, 1)
}
designs <- list(
  within = svydesign(ids = ~psu, strata = ~commune_code, weights = ~weight, data = d, nest = TRUE),
  respondent = svydesign(ids = ~1, strata = ~commune_code, weights = ~weight, data = d),
  village = svydesign(ids = ~1, strata = ~psu, weights = ~weight, data = d)
)
rows <- list()
for (name in names(designs)) {
  des <- designs[[name]]
  for (k in items) {
    r <- svyby(as.formula(paste0("~y_", k)), ~commune_code, des, svyratio,
               denominator = as.formula(paste0("~v_", k)))
    rows[[length(rows) + 1]] <- data.frame(
      design = name, unit_code = r$commune_code, index_code = k,
      estimate = 100 * coef(r), se = 100 * SE(r)
    )
  }
}
out <- do.call(rbind, rows)
write.csv(out, file.path(out_dir, "small_domains_variants.csv"), row.names = FALSE)
