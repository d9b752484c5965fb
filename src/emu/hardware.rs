//! The locker's hardware behind a trait (doors, occupancy sensors, keypad
//! and screen), and an emulated implementation whose faults can be
//! injected: a door that jams, a sensor that reads the opposite.

use crate::controller::Screen;
use crate::domain::CompartmentId;
use std::collections::HashSet;

pub trait Hardware: Send {
    /// Unlatches a door. False if it jammed.
    fn open_door(&mut self, c: CompartmentId) -> bool;
    /// Whether door `c` is open now.
    fn door_open(&self, c: CompartmentId) -> bool;
    /// Closes door `c` and returns what its occupancy sensor reads.
    fn close_door(&mut self, c: CompartmentId) -> bool;
    /// Every compartment's occupancy sensor, for reconciliation.
    fn scan(&self) -> Vec<bool>;
    fn show(&mut self, screen: Screen);
    /// A person puts something into (or takes it out of) open compartment `c`.
    fn put(&mut self, c: CompartmentId) -> bool;
    fn take(&mut self, c: CompartmentId) -> bool;
}

pub struct EmulatedHardware {
    open: Vec<bool>,
    occupied: Vec<bool>,
    jam_next: HashSet<CompartmentId>,
    /// Sensors that read the opposite of the truth.
    faulty_sensor: HashSet<CompartmentId>,
    pub last_screen: Option<Screen>,
}

impl EmulatedHardware {
    pub fn new(compartments: usize) -> Self {
        Self {
            open: vec![false; compartments],
            occupied: vec![false; compartments],
            jam_next: HashSet::new(),
            faulty_sensor: HashSet::new(),
            last_screen: None,
        }
    }

    /// Starts from the state a restarted controller expects: compartments
    /// the store says hold a package are full (the package did not leave
    /// while the controller was down).
    pub fn with_contents(occupied: Vec<bool>) -> Self {
        let mut hw = Self::new(occupied.len());
        hw.occupied = occupied;
        hw
    }

    /// The next opening of door `c` jams.
    pub fn jam(&mut self, c: CompartmentId) {
        self.jam_next.insert(c);
    }

    pub fn sensor_fault(&mut self, c: CompartmentId, on: bool) {
        if on {
            self.faulty_sensor.insert(c);
        } else {
            self.faulty_sensor.remove(&c);
        }
    }

    fn read(&self, c: CompartmentId) -> bool {
        let truth = self.occupied.get(c as usize).copied().unwrap_or(false);
        truth != self.faulty_sensor.contains(&c)
    }

    /// What is inside compartment `c` from now on, whatever was before (a
    /// replay's sensor reading).
    pub fn set_contents(&mut self, c: CompartmentId, occupied: bool) {
        if let Some(o) = self.occupied.get_mut(c as usize) {
            *o = occupied;
        }
    }

    pub fn open_doors(&self) -> Vec<CompartmentId> {
        (0..self.open.len() as CompartmentId)
            .filter(|&c| self.open[c as usize])
            .collect()
    }
}

impl Hardware for EmulatedHardware {
    fn open_door(&mut self, c: CompartmentId) -> bool {
        if self.jam_next.remove(&c) || c as usize >= self.open.len() {
            return false;
        }
        self.open[c as usize] = true;
        true
    }

    fn door_open(&self, c: CompartmentId) -> bool {
        self.open.get(c as usize).copied().unwrap_or(false)
    }

    fn close_door(&mut self, c: CompartmentId) -> bool {
        if let Some(o) = self.open.get_mut(c as usize) {
            *o = false;
        }
        self.read(c)
    }

    fn scan(&self) -> Vec<bool> {
        (0..self.occupied.len() as CompartmentId)
            .map(|c| self.read(c))
            .collect()
    }

    fn show(&mut self, screen: Screen) {
        self.last_screen = Some(screen);
    }

    fn put(&mut self, c: CompartmentId) -> bool {
        match (self.open.get(c as usize), self.occupied.get_mut(c as usize)) {
            (Some(true), Some(o)) => {
                *o = true;
                true
            }
            _ => false,
        }
    }

    fn take(&mut self, c: CompartmentId) -> bool {
        match (self.open.get(c as usize), self.occupied.get_mut(c as usize)) {
            (Some(true), Some(o)) => {
                let had = *o;
                *o = false;
                had
            }
            _ => false,
        }
    }
}
