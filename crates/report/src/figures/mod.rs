//! One module per figure. Each builds its data from the checked input in `new` and draws on
//! any plotters backend (see [`crate::figure::Figure`]).

pub(crate) mod circle;
pub(crate) mod confusion;
pub(crate) mod dag;
pub(crate) mod heatmap;
pub(crate) mod roc;
pub(crate) mod table;
pub(crate) mod variance;
