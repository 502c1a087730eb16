# Reference values for sipas_analysis.weighting from R `survey` (Lumley).
#
# Reads the committed fixtures in tests/r/fixtures/weighting_*.csv, post-stratifies and rakes the
# design weights with survey::postStratify() and survey::rake(), and records
#   - the calibrated weights (weighting_weights.csv), and
#   - the estimate and SE of means / proportions, whole sample and by commune, on the calibrated
#     designs (R accounts for the calibration in the variance) and on a design that simply uses the
#     calibrated weights as if they were design weights (weighting_estimates.csv).
# Numbers are written at full precision: format(x, digits = 17).
#
# The fixture is a synthetic stratified cluster sample: 4 strata (area codes), 16 villages as PSUs
# (nested in strata), 9 communes as domains (two of them a single village), 113 respondents with
# unequal weights, a continuous y with 6% missing values and a 0/1 z. Population tables: sex x
# age band (8 cells) and the margins sex, age band, urban/rural, all adding up to 48,441.
#
# Usage (from the repository root):  Rscript tests/r/reference_weighting.R [OUTPUT_DIR]
# OUTPUT_DIR defaults to tests/r/expected next to this script.

suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "fail")

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(script)) dirname(normalizePath(script)) else "tests/r"
trailing <- commandArgs(trailingOnly = TRUE)
outdir <- if (length(trailing) >= 1) trailing[1] else file.path(here, "expected")
dir.create(outdir, showWarnings = FALSE, recursive = TRUE)
fix <- function(name) file.path(here, "fixtures", name)

d <- read.csv(fix("weighting_sample.csv"), colClasses = c(
  respondent_id = "character", stratum = "character", psu = "character",
  commune_code = "character", weight = "numeric", sex = "integer", age_band = "character",
  urban_rural = "integer", y = "numeric", z = "integer"))
pop_sex_age <- read.csv(fix("weighting_pop_sex_age.csv"),
                        colClasses = c(sex = "integer", age_band = "character", total = "numeric"))
m_sex <- read.csv(fix("weighting_margin_sex.csv"), colClasses = c(sex = "integer", total = "numeric"))
m_age <- read.csv(fix("weighting_margin_age_band.csv"),
                  colClasses = c(age_band = "character", total = "numeric"))
m_ur <- read.csv(fix("weighting_margin_urban_rural.csv"),
                 colClasses = c(urban_rural = "integer", total = "numeric"))

des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, data = d, nest = TRUE)

ps <- postStratify(des, ~sex + age_band, pop_sex_age)
ctl <- list(maxit = 100, epsilon = 1e-12)
rk3 <- rake(des, list(~sex, ~age_band, ~urban_rural), list(m_sex, m_age, m_ur), control = ctl)
rkx <- rake(des, list(~sex + age_band, ~urban_rural), list(pop_sex_age, m_ur), control = ctl)

f17 <- function(x) vapply(x, function(v) format(v, digits = 17), "")

w <- data.frame(
  respondent_id = d$respondent_id,
  poststrat = f17(weights(ps)),
  rake3 = f17(weights(rk3)),
  rake_cross = f17(weights(rkx)))
write.csv(w, file.path(outdir, "weighting_weights.csv"), row.names = FALSE)

# The calibrated weights used as plain design weights (no allowance for calibration).
naive <- function(design) {
  dd <- d
  dd$wcal <- weights(design)
  svydesign(ids = ~psu, strata = ~stratum, weights = ~wcal, data = dd, nest = TRUE)
}

designs <- list(none = des, poststrat = ps, rake3 = rk3, rake_cross = rkx)
rows <- list()
for (method in names(designs)) {
  cal <- designs[[method]]
  plain <- if (method == "none") des else naive(cal)
  for (v in c("y", "z")) {
    fml <- as.formula(paste0("~", v))
    a <- svymean(fml, cal, na.rm = TRUE)
    b <- svymean(fml, plain, na.rm = TRUE)
    rows[[length(rows) + 1]] <- data.frame(
      method = method, variable = v, commune_code = "",
      estimate = f17(coef(a)), se = f17(SE(a)), se_uncalibrated = f17(SE(b)))
    a <- svyby(fml, ~commune_code, cal, svymean, na.rm = TRUE)
    b <- svyby(fml, ~commune_code, plain, svymean, na.rm = TRUE)
    rows[[length(rows) + 1]] <- data.frame(
      method = method, variable = v, commune_code = as.character(a$commune_code),
      estimate = f17(coef(a)), se = f17(SE(a)), se_uncalibrated = f17(SE(b)))
  }
}
est <- do.call(rbind, rows)
write.csv(est, file.path(outdir, "weighting_estimates.csv"), row.names = FALSE)
cat("survey", as.character(packageVersion("survey")), "- wrote", outdir, "\n")
